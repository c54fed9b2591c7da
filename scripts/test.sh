#!/usr/bin/env bash
# The test command (the README's, and what CI runs): installs Redis when missing, builds,
# runs every test against real redis-server processes, then cleans up stray test servers.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
trap 'scripts/stop-test-servers.sh >/dev/null 2>&1 || true' EXIT
swift build --build-tests
# One test at a time: many tests measure real latencies (wake-ups, deadlines, expiry) and a
# 2-core machine running every suite at once would make them measure the scheduler instead.
swift test --skip-build --no-parallel 2>&1 | tee .build/test-output.txt
