#!/usr/bin/env bash
# Coverage-guided fuzzing of the RESP decoder with libFuzzer: builds the Fuzz/ package with the fuzzer and
# AddressSanitizer, then runs it for the given number of seconds (default 60) on Fuzz/corpus.
#
#   scripts/fuzz.sh [seconds]
#
# Fuzz/corpus holds the committed seeds (seed-*); inputs libFuzzer adds there stay out of git, and so do crash
# inputs (Fuzz/findings/). Replay a finding with: Fuzz/.build/release/RESPFuzzer Fuzz/findings/<file>
# Exits non-zero when libFuzzer finds a crash, a leak, a timeout or an out-of-memory input.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [seconds]" >&2; exit 64; }

# --sanitize=fuzzer makes SwiftPM link libFuzzer's main (and instrument the C targets). The Swift flags go in one
# -sanitize= because swiftc keeps only the last one: separately, "address" would silently drop the coverage.
swift build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library

mkdir -p corpus findings
# One process (the machines have 2 shared cores). -timeout flags any input slower than 10 s (a hang),
# -rss_limit_mb any that makes the process grow past 2 GiB (unbounded memory).
exec .build/release/RESPFuzzer \
    -max_total_time="$seconds" \
    -max_len=4096 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -dict=resp.dict \
    -artifact_prefix=findings/ \
    -print_final_stats=1 \
    corpus
