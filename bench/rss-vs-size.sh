#!/usr/bin/env bash
# Peak RSS against file size: for every corpus binary, the peak resident set size of
# `wasmgate inspect --format json FILE > /dev/null` (GNU time), against the target
# 3 x file size + 50 MB, and whether it holds. Prints a Markdown table, largest file first,
# and a summary line.
#
# Usage: bench/rss-vs-size.sh [--check] [--runs N] [--no-build] [FILE...]
#
#   --check     measure `wasmgate check --policy bench/deny-all.toml FILE` instead of
#               `inspect --format json` (exit 1, findings, is expected and not a failure).
#   --runs N    runs per file (default 1); the largest peak RSS and the median wall/CPU time
#               are reported.
#   --no-build  skip `cargo build --release`.
#   FILE...     default: every .wasm at the top of ${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
#               plus corpus/c/*.wasm of this repository.
#
# A file wasmgate rejects (exit 2, e.g. the corpus's deliberately malformed
# wasm-compose-bad-version.wasm) is listed with its exit status and not counted.
set -euo pipefail

RUNS=1
BUILD=1
MODE=inspect
FILES=()
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

own_option() { case "$1" in --check) MODE=check ;; *) return 1 ;; esac; }
parse_size_args "$@"
require_gnu_time
build_wasmgate "$BUILD"
size_files

if [[ $MODE == check ]]; then
    CMD=(check --no-cache --policy "$DENY_ALL"); CMD_DESC="wasmgate check --policy bench/deny-all.toml FILE"
else
    CMD=(inspect --format json); CMD_DESC="wasmgate inspect --format json FILE"
fi
log "wasmgate: $WASMGATE_DESC; $CMD_DESC > /dev/null on ${#FILES[@]} files, $RUNS run(s) each"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
HOLD=0
COUNTED=0
FAILS=()
WORST=
WORST_EXCESS=-1e18
for f in "${FILES[@]}"; do
    name=$(basename "$f")
    case "$(realpath "$f")" in "$REPO_ROOT"/corpus/c/*) name="c/$name" ;; esac
    size=$(stat -L -c %s "$f")
    read -r wall cpu rss rc < <(measure "$RUNS" "$WASMGATE" "${CMD[@]}" "$f")
    size_mb=$(mb "$size")
    target=$(awk -v s="$size" 'BEGIN {printf "%.1f", 3 * s / 1048576 + 50}')
    per=$(awk -v r="$rss" -v s="$size" 'BEGIN {if (s >= 1048576) printf "%.1f", r / (s / 1048576); else print "-"}')
    if [[ $rc -ge 2 ]]; then
        verdict="(exit $rc)"
        FAILS+=("$name")
    else
        COUNTED=$((COUNTED + 1))
        verdict=$(awk -v r="$rss" -v t="$target" 'BEGIN {print (r <= t) ? "yes" : "**no**"}')
        [[ $verdict == yes ]] && HOLD=$((HOLD + 1))
        excess=$(awk -v r="$rss" -v t="$target" 'BEGIN {print r - t}')
        if awk -v a="$excess" -v b="$WORST_EXCESS" 'BEGIN {exit !(a > b)}'; then
            WORST_EXCESS=$excess; WORST="$name: $rss MB vs target $target MB"
        fi
    fi
    ROWS+=("| $name | $size_mb | $rss | $target | $verdict | $per | $wall | $cpu | $rc |")
    log "$name $size_mb MB -> $rss MB ($verdict)"
done

echo
echo "peak RSS of \`$CMD_DESC > /dev/null\` vs file size; target 3 x size + 50 MB"
machine_header
echo "peak RSS from GNU time (max of $RUNS run(s)), wall = median, CPU s = median user+sys"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| file | size MB | peak RSS MB | target MB | holds | RSS / size (files >= 1 MB) | wall s | CPU s | exit |"
echo "|---|---:|---:|---:|---|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
[[ ${#FAILS[@]} -eq 0 ]] || echo "not counted (wasmgate exited 2, input error): ${FAILS[*]}"
echo "target peak RSS <= 3 x size + 50 MB holds on $HOLD of $COUNTED files; largest RSS - target: $WORST"
