#!/usr/bin/env bash
# Runs every locky-bench scenario in release mode and prints one JSON line per scenario.
# Each scenario starts its own redis-server and measures its floor in the same run.
# A scenario that fails its own checks (missing events, orphaned keys, a failed worker, ...)
# still prints its JSON and exits non-zero; the others still run, and this script then exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null || exit 1
swift build -c release --product locky-bench >&2 || exit 1
bench=.build/release/locky-bench
failed=()
run() {
    "$bench" "$@" || failed+=("$*")
}
for scenario in resp uncontended concurrent batch; do
    run "$scenario" --json
done
run handoff --json --seconds 10
run handoff --json --seconds 10 --fair
# The same with each worker's loop on its connection's event loop (no thread hop per call).
run handoff --json --seconds 10 --on-loop
run handoff --json --seconds 10 --fair --on-loop
run push-floor --json
run renewal --json --hold "${RENEWAL_SECONDS:-60}"
run expiry --json
run redlock --json
if ((${#failed[@]} > 0)); then
    printf 'failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
