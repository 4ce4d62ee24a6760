#!/usr/bin/env bash
# Batch `wasmgate check --policy bench/deny-all.toml DIR` over the whole third-party corpus
# (a directory of symlinks): (1) a cold run (empty cache) against a second run served from the
# cache, and (2) `--jobs 1` against `--jobs 2` without cache, as paired runs (the two thread
# counts alternate, first one then the other, so load drifts hit both alike). Prints wall and
# CPU seconds (user+sys, the steadier figure on a shared machine), peak RSS, the ratios, and
# the load average. Not a test: nothing is asserted.
#
# Usage: bench/batch-cache.sh [--runs N] [--no-build | --bin PATH] [--exclude "ID ..."]
#
#   --runs N        cold/warm pairs and 1-thread/2-thread pairs (default 3); medians reported.
#   --no-build      use target/release/wasmgate as built (no `cargo build --release`).
#   --bin PATH      measure this wasmgate binary instead (e.g. target/debug/wasmgate).
#   --exclude IDS   corpus ids left out (default: wasm-compose-bad-version, which is
#                   malformed on purpose: `check` lists it as not checked and exits 2).
set -euo pipefail

RUNS=3
BUILD=1
BIN=
EXCLUDE="wasm-compose-bad-version"
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --bin) [[ $# -ge 2 ]] || die "--bin needs a path"; BIN=$2; BUILD=0; shift 2 ;;
        --exclude) [[ $# -ge 2 ]] || die "--exclude needs a value"; EXCLUDE=$2; shift 2 ;;
        -h|--help) usage "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
require_gnu_time
if [[ -n "$BIN" ]]; then
    [[ -x "$BIN" ]] || die "$BIN is not executable"
    cp "$BIN" "$TMP/wasmgate"
    WASMGATE=$TMP/wasmgate
    WASMGATE_DESC="$("$WASMGATE" --version) ($BIN, tree $(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown))"
else
    build_wasmgate "$BUILD"
fi

DIR=$TMP/corpus
mkdir "$DIR"
N=0
TOTAL=0
while IFS= read -r f; do
    id=$(basename "$f" .wasm)
    [[ " $EXCLUDE " == *" $id "* ]] && continue
    ln -s "$f" "$DIR/$id.wasm"
    N=$((N + 1))
    TOTAL=$((TOTAL + $(stat -L -c %s "$f")))
done < <(corpus_files)
[[ $N -gt 0 ]] || die "no corpus binaries in $CORPUS_DIR"
log "wasmgate: $WASMGATE_DESC; $N binaries, $(mb "$TOTAL") MB"

CHECK=("$WASMGATE" check --policy "$DENY_ALL" "$DIR")
# run_row ARGS...: one timed run that must end in 0 or 1 (2 would mean a binary stopped the batch).
run_row() {
    local row
    row=$(timed_run "${CHECK[@]}" "$@")
    local rc=${row##* }
    [[ $rc -le 1 ]] || die "check exited $rc (${CHECK[*]} $*)"
    echo "$row"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$TMP/cache.txt"
for ((i = 0; i < RUNS; i++)); do
    rm -rf "$TMP/cache"
    log "cache pair $((i + 1))/$RUNS: cold, then warm"
    cold=$(run_row --cache-dir "$TMP/cache")
    warm=$(run_row --cache-dir "$TMP/cache")
    echo "$cold $warm" >>"$TMP/cache.txt"
done
: >"$TMP/threads.txt"
for ((i = 0; i < RUNS; i++)); do
    log "thread pair $((i + 1))/$RUNS"
    if ((i % 2 == 0)); then
        one=$(run_row --no-cache --jobs 1)
        two=$(run_row --no-cache --jobs 2)
    else
        two=$(run_row --no-cache --jobs 2)
        one=$(run_row --no-cache --jobs 1)
    fi
    echo "$one $two" >>"$TMP/threads.txt"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

col() { awk -v c="$1" '{print $c}' "$2" | median; }
pair_ratio() { awk -v a="$1" -v b="$2" '{if ($b > 0) printf "%.4f\n", $a / $b}' "$3" | median; }

echo
echo "wasmgate check --policy bench/deny-all.toml DIR: $N corpus binaries ($(mb "$TOTAL") MB) as symlinks; left out: $EXCLUDE"
machine_header
echo "load average before: $LOAD_BEFORE, after: $LOAD_AFTER ($(nproc) cores); $RUNS pairs each, medians; CPU s = user+sys from GNU time"
echo
echo "| run | wall s | CPU s | peak RSS MB |"
echo "|---|---:|---:|---:|"
echo "| cold (empty cache) | $(col 1 "$TMP/cache.txt") | $(col 2 "$TMP/cache.txt") | $(col 3 "$TMP/cache.txt") |"
echo "| warm (from cache) | $(col 5 "$TMP/cache.txt") | $(col 6 "$TMP/cache.txt") | $(col 7 "$TMP/cache.txt") |"
echo "| --no-cache --jobs 1 | $(col 1 "$TMP/threads.txt") | $(col 2 "$TMP/threads.txt") | $(col 3 "$TMP/threads.txt") |"
echo "| --no-cache --jobs 2 | $(col 5 "$TMP/threads.txt") | $(col 6 "$TMP/threads.txt") | $(col 7 "$TMP/threads.txt") |"
echo
echo "cold / warm (median of per-pair ratios): wall $(pair_ratio 1 5 "$TMP/cache.txt")x, CPU $(pair_ratio 2 6 "$TMP/cache.txt")x"
echo "jobs 1 / jobs 2 wall speedup (median of per-pair ratios): $(pair_ratio 1 5 "$TMP/threads.txt")x; CPU s jobs 2 / jobs 1: $(pair_ratio 6 2 "$TMP/threads.txt")"
echo "per pair (wall s, jobs 1 then jobs 2):"
awk '{printf "  %s %s\n", $1, $5}' "$TMP/threads.txt"
