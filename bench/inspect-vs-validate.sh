#!/usr/bin/env bash
# Compare the wall time of `wasmgate inspect --format json FILE` with
# `wasm-tools validate --features all FILE` (pinned wasm-tools 1.263.0, the
# release whose wasmparser wasmgate uses), plus the peak RSS of each.
#
# Usage: bench/inspect-vs-validate.sh [--runs N] [--human] [--no-build] [FILE...]
#
#   --runs N    timed runs per command (default 5); the median is reported.
#               One untimed warm-up run precedes them (page cache).
#   --human     also time `wasmgate inspect --format human` (extra column).
#   --no-build  skip `cargo build --release` (use the existing binary).
#   FILE...     .wasm files; default: the 4 largest .wasm files in
#               ${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}.
#
# Environment:
#   WASM_TOOLS_ROOT      cargo install root for wasm-tools
#                        (default $HOME/.cache/wasmgate/wasm-tools-1.263.0);
#                        installed there if the binary is missing or another version.
#   WASMGATE_CORPUS_DIR  where the default files are taken from.
#   CARGO_TARGET_DIR     honoured when locating the wasmgate binary.
#   BENCH_NO_HYPERFINE=1 use the date loop even when hyperfine is installed.
#
# Timing uses hyperfine when installed (Debian: `apt-get install hyperfine`),
# otherwise a loop around `date +%s%N`. Peak RSS, CPU% and CPU seconds come from one
# extra run of each command under GNU time (`/usr/bin/time -v`, Debian package `time`).
# The load average before and after is printed: on a shared machine CPU% well
# under 100% means the commands were competing with other work for the cores.
# Both tools check function bodies in parallel (rayon) and get all the cores.
set -euo pipefail

WASM_TOOLS_VERSION=1.263.0
RUNS=5
HUMAN=0
BUILD=1
FILES=()

die() { echo "error: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#--runs=}; shift ;;
        --human) HUMAN=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        --) shift; FILES+=("$@"); break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) FILES+=("$1"); shift ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WASM_TOOLS_ROOT=${WASM_TOOLS_ROOT:-$HOME/.cache/wasmgate/wasm-tools-$WASM_TOOLS_VERSION}
WASM_TOOLS=$WASM_TOOLS_ROOT/bin/wasm-tools
CORPUS_DIR=${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$REPO_ROOT/$TARGET_DIR ;; esac
WASMGATE=$TARGET_DIR/release/wasmgate

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

log() { echo ">> $*" >&2; }

# --- 1. build wasmgate --------------------------------------------------------
if [[ $BUILD -eq 1 ]]; then
    log "cargo build --release (in $REPO_ROOT)"
    (cd "$REPO_ROOT" && cargo build --release --bin wasmgate) >&2
fi
[[ -x "$WASMGATE" ]] || die "$WASMGATE not found (build failed, or run without --no-build)"

# --- 2. wasm-tools at the pinned version ---------------------------------------
wasm_tools_ok() { [[ -x "$WASM_TOOLS" ]] && [[ "$("$WASM_TOOLS" --version 2>/dev/null)" == "wasm-tools $WASM_TOOLS_VERSION"* ]]; }
if ! wasm_tools_ok; then
    log "installing wasm-tools $WASM_TOOLS_VERSION into $WASM_TOOLS_ROOT (takes several minutes)"
    # The `validate` feature alone is enough for `wasm-tools validate` and builds far less.
    cargo install wasm-tools --version "$WASM_TOOLS_VERSION" --locked --root "$WASM_TOOLS_ROOT" \
        --no-default-features --features validate >&2
    wasm_tools_ok || die "$WASM_TOOLS is not wasm-tools $WASM_TOOLS_VERSION after install"
fi

# --- 3. files ------------------------------------------------------------------
if [[ ${#FILES[@]} -eq 0 ]]; then
    [[ -d "$CORPUS_DIR" ]] || die "no files given and corpus dir $CORPUS_DIR missing (see corpus/README)"
    mapfile -t FILES < <(find "$CORPUS_DIR" -maxdepth 1 -type f -name '*.wasm' -printf '%s\t%p\n' \
        | sort -t$'\t' -k1,1nr | head -n 4 | cut -f2-)
    [[ ${#FILES[@]} -gt 0 ]] || die "no .wasm files in $CORPUS_DIR"
fi
for f in "${FILES[@]}"; do [[ -f "$f" ]] || die "no such file: $f"; done

HYPERFINE=$(command -v hyperfine || true)
[[ -z "${BENCH_NO_HYPERFINE:-}" ]] || HYPERFINE=
GNU_TIME=
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>/dev/null; then GNU_TIME=/usr/bin/time; fi

log "wasmgate:   $WASMGATE ($("$WASMGATE" --version))"
log "wasm-tools: $WASM_TOOLS ($("$WASM_TOOLS" --version))"
if [[ -n "$HYPERFINE" ]]; then TIMER="hyperfine ($("$HYPERFINE" --version))"; else TIMER="date +%s%N loop"; fi
log "timer:      $TIMER; runs=$RUNS (+1 warm-up)"
[[ -n "$GNU_TIME" ]] || log "no GNU time at /usr/bin/time (apt-get install time): peak RSS not reported"

# median of the numbers on stdin (one per line)
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit}
    if (NR%2) printf "%.4f\n", v[(NR+1)/2]; else printf "%.4f\n", (v[NR/2]+v[NR/2+1])/2}'; }

# time_cmd NAME CMD...: prints the median wall time in seconds of CMD (stdout+stderr to /dev/null)
time_cmd() {
    local name=$1; shift
    if [[ -n "$HYPERFINE" ]]; then
        local cmdline
        cmdline=$(printf '%q ' "$@")
        # -N: no intermediate shell; hyperfine sends the command's output to /dev/null.
        "$HYPERFINE" -N --style none --ignore-failure --warmup 1 --runs "$RUNS" --command-name "$name" \
            --export-csv "$TMP/$name.csv" -- "$cmdline" >/dev/null
        # columns: command,mean,stddev,median,user,system,min,max (command is "$name": no commas)
        awk -F, 'NR == 2 {printf "%.4f\n", $4}' "$TMP/$name.csv"
    else
        "$@" >/dev/null 2>&1 || true
        local i t0 t1
        for ((i = 0; i < RUNS; i++)); do
            t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
            echo $(( t1 - t0 ))
        done | awk '{printf "%.9f\n", $1/1e9}' | median
    fi
}

# rss_cmd CMD...: prints "<peak RSS MB> <CPU%> <user+sys CPU s>" of one run of CMD, or n/a
rss_cmd() {
    if [[ -z "$GNU_TIME" ]]; then echo "n/a n/a n/a"; return; fi
    "$GNU_TIME" -v -o "$TMP/time.txt" "$@" >/dev/null 2>&1 || true
    awk -F': ' '/Maximum resident set size/ {rss=$2} /Percent of CPU/ {cpu=$2}
        /User time \(seconds\)/ {u=$2} /System time \(seconds\)/ {sy=$2}
        END {printf "%.1f %s %.2f\n", rss/1024, cpu, u+sy}' "$TMP/time.txt"
}

# --- 4. measure ----------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
NOTES=()
LARGEST_SIZE=-1
LARGEST_LINE=
for f in "${FILES[@]}"; do
    name=$(basename "$f")
    size=$(stat -c %s "$f")
    size_mb=$(awk -v s="$size" 'BEGIN {printf "%.2f", s/1048576}')
    log "$name ($size_mb MB)"

    wg_status=ok
    if ! "$WASMGATE" inspect --format json "$f" >/dev/null 2>"$TMP/wg.err"; then
        wg_status=failed
        NOTES+=("$name: wasmgate inspect failed: $(head -c 300 "$TMP/wg.err" | tr '\n' ' ')")
    fi
    wt_status=ok
    if ! "$WASM_TOOLS" validate --features all "$f" >/dev/null 2>"$TMP/wt.err"; then
        wt_status=invalid
        NOTES+=("$name: wasm-tools validate --features all rejects it: $(head -c 300 "$TMP/wt.err" | tr '\n' ' ')")
    fi

    wg=$(time_cmd wasmgate "$WASMGATE" inspect --format json "$f")
    wt=$(time_cmd wasm-tools "$WASM_TOOLS" validate --features all "$f")
    read -r wg_rss wg_cpu wg_cpus < <(rss_cmd "$WASMGATE" inspect --format json "$f")
    read -r wt_rss wt_cpu wt_cpus < <(rss_cmd "$WASM_TOOLS" validate --features all "$f")
    ratio=$(awk -v a="$wg" -v b="$wt" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "n/a"}')
    [[ $wg_status == ok ]] || wg="$wg (failed)"
    [[ $wt_status == ok ]] || wt="$wt (invalid)"
    row="| $name | $size_mb | $wg | $wt | $ratio | $wg_rss | $wt_rss | $wg_cpu / $wt_cpu | $wg_cpus / $wt_cpus |"
    if [[ $HUMAN -eq 1 ]]; then
        wh=$(time_cmd wasmgate-human "$WASMGATE" inspect --format human "$f")
        row="$row $wh |"
    fi
    ROWS+=("$row")
    if (( size > LARGEST_SIZE )); then
        LARGEST_SIZE=$size
        LARGEST_LINE="ratio wasmgate/wasm-tools for the largest file ($name, $size_mb MB): $ratio"
    fi
done

# --- 5. report -----------------------------------------------------------------
header="| file | size MB | wasmgate median s | wasm-tools median s | ratio wg/wt | wasmgate peak RSS MB | wasm-tools peak RSS MB | CPU% wg / wt | CPU s (user+sys) wg / wt |"
sep="|---|---:|---:|---:|---:|---:|---:|---:|---:|"
if [[ $HUMAN -eq 1 ]]; then header="$header wasmgate --format human median s |"; sep="$sep---:|"; fi
echo
echo "wasmgate inspect --format json FILE  vs  wasm-tools validate --features all FILE"
echo "median of $RUNS runs after 1 warm-up, timer: $TIMER; $(nproc) cores; peak RSS, CPU% and CPU s from one more run under ${GNU_TIME:-<no GNU time: n/a>}"
echo "$("$WASMGATE" --version) (tree $(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)), $("$WASM_TOOLS" --version), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "$header"
echo "$sep"
printf '%s\n' "${ROWS[@]}"
echo
for n in ${NOTES[@]+"${NOTES[@]}"}; do echo "note: $n"; done
echo "$LARGEST_LINE"
