#!/usr/bin/env bash
# Corpus batch scan on 1 vs 2 (or more) threads: `wasmgate check --policy bench/deny-all.toml DIR`
# over a directory of symlinks to every corpus binary, with RAYON_NUM_THREADS=1, then 2.
# Reports median wall time, median CPU seconds (user+sys), peak RSS and the speedup.
#
# Usage: bench/batch-threads.sh [--runs N] [--threads "1 2"] [--no-build] [FILE...]
#
#   --runs N          runs per thread count (default 3) after 1 warm-up run; medians reported.
#   --threads "A B"   RAYON_NUM_THREADS values to compare (default "1 2"); the speedup is
#                     relative to the first.
#   --no-build        skip `cargo build --release`.
#   FILE...           default: every .wasm at the top of ${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
#                     plus corpus/c/*.wasm of this repository.
#
# `check` stops at the first binary it cannot parse (exit 2 for the whole run), so files that
# `wasmgate check` rejects on their own (the corpus's malformed wasm-compose-bad-version.wasm)
# are left out of the directory and listed. Exit 1 (findings) is the expected result.
#
# What runs in parallel: `wasmgate check` walks its files one after another (src/cmd/check.rs:
# a plain loop); inside each file the analyzer validates and scans function bodies, and
# computes per-entry-point reachability, on rayon's global pool, which honours
# RAYON_NUM_THREADS. Everything else (parsing sections, policy check, report) is serial.
set -euo pipefail

RUNS=3
THREADS="1 2"
BUILD=1
FILES=()
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#--runs=}; shift ;;
        --threads) [[ $# -ge 2 ]] || die "--threads needs a value"; THREADS=$2; shift 2 ;;
        --threads=*) THREADS=${1#--threads=}; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage "$0"; exit 0 ;;
        --) shift; FILES+=("$@"); break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) FILES+=("$1"); shift ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
for t in $THREADS; do [[ "$t" =~ ^[1-9][0-9]*$ ]] || die "--threads: '$t' is not a positive integer"; done
require_gnu_time
build_wasmgate "$BUILD"

if [[ ${#FILES[@]} -eq 0 ]]; then
    mapfile -t FILES < <(corpus_files; find "$REPO_ROOT/corpus/c" -maxdepth 1 -name '*.wasm' 2>/dev/null | sort)
fi
DIR=$TMP/batch
mkdir "$DIR"
SKIPPED=()
TOTAL=0
for f in "${FILES[@]}"; do
    [[ -f "$f" ]] || die "no such file: $f"
    name=$(basename "$f")
    case "$(realpath "$f")" in "$REPO_ROOT"/corpus/c/*) name="c-$name" ;; esac
    rc=0
    "$WASMGATE" check --no-cache --policy "$DENY_ALL" "$f" >/dev/null 2>&1 || rc=$?
    if [[ $rc -ge 2 ]]; then SKIPPED+=("$name"); continue; fi
    ln -s "$(realpath "$f")" "$DIR/$name"
    TOTAL=$((TOTAL + $(stat -L -c %s "$f")))
done
N=$(find "$DIR" -name '*.wasm' | wc -l)
[[ $N -gt 0 ]] || die "no binaries to scan"
log "wasmgate: $WASMGATE_DESC; $N binaries, $(mb "$TOTAL") MB"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
BASE=
for t in $THREADS; do
    log "RAYON_NUM_THREADS=$t: warm-up + $RUNS runs"
    set +e
    out_bytes=$(RAYON_NUM_THREADS=$t "$WASMGATE" check --no-cache --policy "$DENY_ALL" "$DIR" 2>"$TMP/err" | wc -c)
    rc=${PIPESTATUS[0]}
    set -e
    [[ $rc -le 1 ]] || die "check exited $rc with RAYON_NUM_THREADS=$t: $(head -c 300 "$TMP/err")"
    read -r wall cpu rss rc < <(RAYON_NUM_THREADS=$t measure "$RUNS" "$WASMGATE" check --no-cache --policy "$DENY_ALL" "$DIR")
    [[ -n "$BASE" ]] || BASE=$wall
    util=$(awk -v c="$cpu" -v w="$wall" 'BEGIN {printf "%.0f%%", 100 * c / w}')
    ROWS+=("| $t | $wall | $cpu | $util | $(ratio "$BASE" "$wall") | $rss | $rc | $(mb "$out_bytes") |")
done

echo
echo "wasmgate check --policy bench/deny-all.toml DIR: $N binaries ($(mb "$TOTAL") MB) as symlinks in DIR"
machine_header
echo "median of $RUNS runs after 1 warm-up; wall from date +%s%N, CPU s (user+sys) and peak RSS from GNU time"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| RAYON_NUM_THREADS | wall s | CPU s | CPU / wall | speedup (wall) | peak RSS MB | exit | output MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
[[ ${#SKIPPED[@]} -eq 0 ]] || echo "left out (check exits 2 on them, which would stop the batch): ${SKIPPED[*]}"
