#!/usr/bin/env bash
# Builds the documentation with DocC, without a package plugin: symbol graphs from the debug
# build (`swift package dump-symbol-graph`, which reuses what `swift build` built), then
# `docc convert` of each module's catalog into .build/docs/<Module>/, a static site.
# Fails (exit 1) on any DocC warning: a broken ``symbol`` link, a documented parameter that does
# not exist or one that is missing, an ambiguous overload. Prints DocC's documentation coverage.
#
#   scripts/docs.sh                               # Locky and LockyRedis
#   python3 -m http.server -d .build/docs/Locky   # then open http://localhost:8000/documentation/locky
set -euo pipefail
cd "$(dirname "$0")/.."

# docc ships with the Swift toolchain, next to `swift`.
docc=$(command -v docc || true)
if [[ -z "$docc" ]]; then
    docc="$(dirname "$(readlink -f "$(command -v swift)")")/docc"
fi
if [[ ! -x "$docc" ]]; then
    echo "docs.sh: docc not found (it comes with the Swift toolchain, next to swift)" >&2
    exit 1
fi

modules=(Locky LockyRedis)
out=.build/docs
mkdir -p "$out"

# Public symbols only, as users see them, without the members every conformer inherits
# (`!=`, the AsyncSequence algorithms of swift-async-algorithms and ServiceLifecycle): they are
# documented where they are declared. The command's warnings about dependencies (unhandled
# CMakeLists.txt) are noise: shown only when it fails.
log="$out/dump-symbol-graph.log"
if ! swift package dump-symbol-graph --minimum-access-level public --skip-synthesized-members >"$log" 2>&1; then
    cat "$log" >&2
    echo "docs.sh: swift package dump-symbol-graph failed" >&2
    exit 1
fi
graphs=$(sed -n 's/^Files written to //p' "$log" | tail -1)
if [[ -z "$graphs" || ! -d "$graphs" ]]; then
    cat "$log" >&2
    echo "docs.sh: no symbol graph directory in the output of dump-symbol-graph" >&2
    exit 1
fi

status=0
for module in "${modules[@]}"; do
    # One module per conversion: its own graph and its extensions of other modules' types
    # (`<Module>@<Other>.symbols.json`), nothing else.
    symbols="$out/symbol-graphs/$module"
    rm -rf "$symbols" "$out/$module"
    mkdir -p "$symbols"
    cp "$graphs/$module.symbols.json" "$symbols/"
    for extension in "$graphs/$module@"*.symbols.json; do
        [[ -e "$extension" ]] && cp "$extension" "$symbols/"
    done
    catalog=()
    [[ -d "Sources/$module/$module.docc" ]] && catalog=("Sources/$module/$module.docc")
    echo "== $module"
    if ! "$docc" convert "${catalog[@]}" \
        --additional-symbol-graph-dir "$symbols" \
        --output-dir "$out/$module" \
        --fallback-display-name "$module" \
        --fallback-bundle-identifier "locky.$module" \
        --warnings-as-errors \
        --experimental-documentation-coverage \
        --coverage-summary-level brief; then
        status=1
    fi
done

if [[ $status -ne 0 ]]; then
    echo "docs.sh: DocC reported warnings (treated as errors) above" >&2
    exit 1
fi
echo "docs.sh: documentation in $out/{$(IFS=,; echo "${modules[*]}")}/ (coverage details: documentation-coverage.json there)"
