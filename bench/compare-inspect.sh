#!/usr/bin/env bash
# Are two wasmgate builds' analyses identical? Runs `inspect --format json` of each build
# (plus extra arguments, e.g. --per-entry for the new one) on every corpus binary and every
# corpus/c program, and compares the SHA-256 of the output; prints the differing files.
#
# Usage: bench/compare-inspect.sh OLD_BINARY NEW_BINARY [-- NEW_ARGS...]
#
# Used for issue 11: a build of the commit before the SCC reachability (schema 1 only) vs
# `wasmgate inspect --format json --per-entry` after it, byte for byte.
set -euo pipefail

[[ $# -ge 2 ]] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 2; }
OLD=$1 NEW=$2; shift 2
[[ ${1:-} == -- ]] && shift
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CORPUS_DIR=${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
digest() { "$@" 2>/dev/null | sha256sum | cut -c1-64; }
same=0 differ=0
for f in "$CORPUS_DIR"/*.wasm "$REPO_ROOT"/corpus/c/*.wasm; do
    if [[ "$(digest "$OLD" inspect --format json "$f")" == "$(digest "$NEW" inspect --format json "$@" "$f")" ]]; then
        same=$((same + 1))
    else
        differ=$((differ + 1)); echo "differs: $f"
    fi
done
echo "identical: $same, different: $differ"
[[ $differ -eq 0 ]]
