#!/usr/bin/env bash
# Kills redis-server processes left behind by a crashed test run, using only the pids LockyTestSupport recorded in
# ${TMPDIR:-/tmp}/locky-test-servers/<pid>.pid. Never kills by name; checks /proc/<pid>/cmdline so a recycled pid
# that is no longer a redis-server is left alone.
set -euo pipefail

tmp="${TMPDIR:-/tmp}"
tmp="${tmp%/}"
registry="$tmp/locky-test-servers"

if [[ -d "$registry" ]]; then
    for file in "$registry"/*.pid; do
        [[ -e "$file" ]] || continue
        pid="$(basename "$file" .pid)"
        if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] \
            && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'redis-server'; then
            kill -CONT "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
            echo "stopped redis-server pid $pid"
        fi
        # The file holds the server's temporary folder; remove it only if it is one of ours.
        folder="$(head -n 1 "$file" 2>/dev/null || true)"
        if [[ "$(basename "$folder")" == locky-redis-* && -d "$folder" ]]; then
            rm -rf -- "$folder"
        fi
        rm -f -- "$file"
    done
fi

# TLS material folders are named locky-tls-<pid>-<id>; remove those whose test process is gone.
for folder in "$tmp"/locky-tls-*; do
    [[ -d "$folder" ]] || continue
    owner="$(basename "$folder")"
    owner="${owner#locky-tls-}"
    owner="${owner%%-*}"
    if [[ "$owner" =~ ^[0-9]+$ ]] && [[ ! -e "/proc/$owner" ]]; then
        rm -rf -- "$folder"
    fi
done
