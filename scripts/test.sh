#!/usr/bin/env bash
# The test command (the README's, and what CI runs): installs Redis when missing, builds,
# runs every test against real redis-server processes, then cleans up stray test servers.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
trap 'scripts/stop-test-servers.sh >/dev/null 2>&1 || true' EXIT
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
