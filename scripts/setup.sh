#!/usr/bin/env bash
# Installs what the real-Redis tests need (redis-server, redis-cli, openssl) from Debian's packages.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=()
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    packages+=(redis-server redis-tools)
fi
if ! command -v openssl >/dev/null 2>&1; then
    packages+=(openssl)
fi

if ((${#packages[@]} > 0)); then
    sudo_cmd=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo_cmd=(sudo)
        else
            echo "setup.sh: need root or sudo to install: ${packages[*]}" >&2
            exit 1
        fi
    fi
    echo "setup.sh: installing ${packages[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

redis-server --version
