#!/usr/bin/env bash
# Runs every locky-bench scenario in release mode and prints one JSON line per scenario.
# Each scenario starts its own redis-server and measures its floor in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
swift build -c release --product locky-bench >&2
bench=.build/release/locky-bench
for scenario in resp uncontended concurrent batch; do
    "$bench" "$scenario" --json
done
"$bench" handoff --json --seconds 10
"$bench" handoff --json --seconds 10 --fair
# The same with each worker's loop on its connection's event loop (no thread hop per call).
"$bench" handoff --json --seconds 10 --on-loop
"$bench" handoff --json --seconds 10 --fair --on-loop
"$bench" push-floor --json
"$bench" renewal --json --hold "${RENEWAL_SECONDS:-60}"
"$bench" expiry --json
"$bench" redlock --json
