#!/usr/bin/env bash
# Peak RSS of every output format against file size (issue 11): for every corpus binary,
# the peak resident set size (GNU time) of
#
#   wasmgate inspect FILE                                        (human)
#   wasmgate inspect --format json FILE                          (schema 2, the default)
#   wasmgate check --policy bench/deny-all.toml --format F FILE  (F = human, json, sarif)
#
# each writing to /dev/null, against the target 3 x file size + 50 MB. Prints a Markdown
# table (largest file first, the worst format's RSS decides "holds") and a summary line.
#
# Usage: bench/rss-formats.sh [--runs N] [--no-build] [FILE...]
#
#   --runs N    runs per (file, format) (default 1); the largest peak RSS is reported.
#   --no-build  skip `cargo build --release`.
#   FILE...     default: every .wasm at the top of ${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
#               plus corpus/c/*.wasm of this repository.
#
# `check` exits 1 with the deny-all policy (findings): expected. A file wasmgate rejects
# (exit 2) is listed and not counted.
set -euo pipefail

RUNS=1
BUILD=1
FILES=()
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

parse_size_args "$@"
require_gnu_time
build_wasmgate "$BUILD"
size_files

FORMATS=("inspect" "inspect --format json" "check --format human" "check --format json" "check --format sarif")
log "wasmgate: $WASMGATE_DESC; ${#FORMATS[@]} formats on ${#FILES[@]} files, $RUNS run(s) each"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
HOLD=0
COUNTED=0
FAILS=()
for f in "${FILES[@]}"; do
    name=$(basename "$f")
    case "$(realpath "$f")" in "$REPO_ROOT"/corpus/c/*) name="c/$name" ;; esac
    size=$(stat -L -c %s "$f")
    target=$(awk -v s="$size" 'BEGIN {printf "%.1f", 3 * s / 1048576 + 50}')
    cells=()
    worst=0
    bad=0
    for fmt in "${FORMATS[@]}"; do
        read -ra words <<<"$fmt"
        # --no-cache: a cached check would not analyse the binary at all.
        if [[ ${words[0]} == check ]]; then words+=(--no-cache --policy "$DENY_ALL"); fi
        read -r _ _ rss rc < <(measure "$RUNS" "$WASMGATE" "${words[@]}" "$f")
        [[ $rc -ge 2 ]] && bad=1
        cells+=("$rss")
        worst=$(awk -v a="$rss" -v b="$worst" 'BEGIN {print (a > b) ? a : b}')
    done
    if [[ $bad -eq 1 ]]; then
        verdict="(exit 2)"
        FAILS+=("$name")
    else
        COUNTED=$((COUNTED + 1))
        verdict=$(awk -v r="$worst" -v t="$target" 'BEGIN {print (r <= t) ? "yes" : "**no**"}')
        [[ $verdict == yes ]] && HOLD=$((HOLD + 1))
    fi
    row="| $name | $(mb "$size") | $target |"
    for c in "${cells[@]}"; do row+=" $c |"; done
    ROWS+=("$row $verdict |")
    log "$name: ${cells[*]} MB (target $target: $verdict)"
done

echo
echo "peak RSS MB of each output format (stdout to /dev/null) vs file size; target 3 x size + 50 MB"
machine_header
echo "peak RSS from GNU time (max of $RUNS run(s)); check runs with bench/deny-all.toml"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| file | size MB | target MB | inspect | inspect json | check human | check json | check sarif | holds (all formats) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${ROWS[@]}"
echo
[[ ${#FAILS[@]} -eq 0 ]] || echo "not counted (wasmgate exited 2, input error): ${FAILS[*]}"
echo "target peak RSS <= 3 x size + 50 MB holds for every format on $HOLD of $COUNTED files"
