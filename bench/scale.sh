#!/usr/bin/env bash
# The scale table of issue 11: for every corpus binary of at least 5 MB (duckdb-eh and
# duckdb-coi among them), side by side under the same load:
#
#   wasm-tools validate --features all FILE                      (the yardstick)
#   wasmgate check --policy bench/deny-all.toml FILE             (every reach is a finding)
#   wasmgate inspect --format json FILE                          (the default JSON, schema 2)
#
# median wall and CPU seconds (user+sys) of each, the ratios to validate, peak RSS against
# the target 3 x file size + 50 MB, and the output sizes (target for duckdb-eh's inspect
# JSON: at most 50 MB). Runs are interleaved (validate, check, inspect, validate, ...), so
# each ratio compares runs made under the same load; the three commands get one untimed
# warm-up run each first (page cache; it also measures the output sizes).
#
# Usage: bench/scale.sh [--runs N] [--min-mb M] [--no-build] [FILE...]
#
#   --runs N      timed runs per command (default 5); medians are reported, RSS is the max.
#   --min-mb M    size threshold for the default file list (default 5).
#   --no-build    skip `cargo build --release` (use the existing target/release/wasmgate).
#   FILE...       .wasm files; default: every .wasm of at least M MB in
#                 ${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}, largest first.
#
# Environment: BENCH_CARGO_FLAGS (e.g. --no-default-features: the static analysis without
# the sandbox, whose wasmtime build is long; `inspect` and `check` run the same code),
# WASM_TOOLS_ROOT, WASMGATE_CORPUS_DIR, CARGO_TARGET_DIR (see bench/lib.sh).
# `check` exits 1 with the deny-all policy (findings): expected, not a failure.
set -euo pipefail

RUNS=5
MIN_MB=5
BUILD=1
FILES=()
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#--runs=}; shift ;;
        --min-mb) [[ $# -ge 2 ]] || die "--min-mb needs a value"; MIN_MB=$2; shift 2 ;;
        --min-mb=*) MIN_MB=${1#--min-mb=}; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage "$0"; exit 0 ;;
        --) shift; FILES+=("$@"); break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) FILES+=("$1"); shift ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
[[ "$MIN_MB" =~ ^[0-9]+$ ]] || die "--min-mb must be a whole number of MB, got '$MIN_MB'"
require_gnu_time
build_wasmgate "$BUILD"
ensure_wasm_tools

if [[ ${#FILES[@]} -eq 0 ]]; then
    while IFS= read -r f; do
        (( $(stat -L -c %s "$f") >= MIN_MB * 1048576 )) && FILES+=("$f")
    done < <(corpus_files)
    [[ ${#FILES[@]} -gt 0 ]] || die "no .wasm file of at least $MIN_MB MB in $CORPUS_DIR"
fi
for f in "${FILES[@]}"; do [[ -f "$f" ]] || die "no such file: $f"; done

VALIDATE=("$WASM_TOOLS" validate --features all)
# --no-cache: `check` caches findings by default; a cached run would measure the cache.
CHECK=("$WASMGATE" check --no-cache --policy "$DENY_ALL")
INSPECT=("$WASMGATE" inspect --format json)

# column N of a runs file, as a median (N = 1 wall, 2 CPU) or a maximum (3 RSS)
med() { cut -d' ' -f"$2" "$1" | median; }
peak() { cut -d' ' -f3 "$1" | sort -g | tail -n 1; }

log "wasmgate:   $WASMGATE_DESC"
log "wasm-tools: $("$WASM_TOOLS" --version); $RUNS interleaved runs per command"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
NOTES=()
for f in "${FILES[@]}"; do
    name=$(basename "$f")
    size=$(stat -L -c %s "$f")
    log "$name ($(mb "$size") MB)"
    set +e
    "${VALIDATE[@]}" "$f" >/dev/null 2>"$TMP/err"
    [[ $? -eq 0 ]] || NOTES+=("$name: validate rejects it: $(head -c 200 "$TMP/err" | tr '\n' ' ')")
    check_bytes=$("${CHECK[@]}" "$f" 2>"$TMP/err" | wc -c)
    rc=${PIPESTATUS[0]}
    [[ $rc -le 1 ]] || NOTES+=("$name: check exited $rc: $(head -c 200 "$TMP/err" | tr '\n' ' ')")
    json_bytes=$("${INSPECT[@]}" "$f" 2>"$TMP/err" | wc -c)
    rc=${PIPESTATUS[0]}
    [[ $rc -eq 0 ]] || NOTES+=("$name: inspect exited $rc: $(head -c 200 "$TMP/err" | tr '\n' ' ')")
    set -e
    : >"$TMP/v.txt"; : >"$TMP/c.txt"; : >"$TMP/i.txt"
    for ((i = 0; i < RUNS; i++)); do
        timed_run "${VALIDATE[@]}" "$f" >>"$TMP/v.txt"
        timed_run "${CHECK[@]}" "$f" >>"$TMP/c.txt"
        timed_run "${INSPECT[@]}" "$f" >>"$TMP/i.txt"
    done
    vw=$(med "$TMP/v.txt" 1); vc=$(med "$TMP/v.txt" 2)
    cw=$(med "$TMP/c.txt" 1); cc=$(med "$TMP/c.txt" 2); cr=$(peak "$TMP/c.txt")
    iw=$(med "$TMP/i.txt" 1); ic=$(med "$TMP/i.txt" 2); ir=$(peak "$TMP/i.txt")
    target=$(awk -v s="$size" 'BEGIN {printf "%.1f", 3 * s / 1048576 + 50}')
    holds() { awk -v r="$1" -v t="$target" 'BEGIN {print (r <= t) ? "yes" : "**no**"}'; }
    ROWS+=("| $name | $(mb "$size") | $vw | $vc | $cw | $cc | **$(ratio "$cw" "$vw")** | $(ratio "$cc" "$vc") | $iw | $ic | **$(ratio "$iw" "$vw")** | $(ratio "$ic" "$vc") | $cr $(holds "$cr") | $ir $(holds "$ir") | $target | $(mb "$json_bytes") | $(mb "$check_bytes") |")
done

echo
echo "wasm-tools validate --features all FILE  vs  wasmgate check --policy bench/deny-all.toml FILE  vs  wasmgate inspect --format json FILE"
machine_header
echo "wasm-tools: $("$WASM_TOOLS" --version); $RUNS interleaved runs per command after 1 warm-up each; wall and CPU s (user+sys, GNU time) are medians, peak RSS the max"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| file | size MB | validate wall s | validate CPU s | check wall s | check CPU s | check/validate wall | check/validate CPU | inspect wall s | inspect CPU s | inspect/validate wall | inspect/validate CPU | check peak RSS MB (<= target) | inspect peak RSS MB (<= target) | RSS target MB (3 x size + 50) | inspect JSON MB | check output MB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
for n in ${NOTES[@]+"${NOTES[@]}"}; do echo "note: $n"; done
