#!/usr/bin/env bash
# Compare `wasmgate check --policy bench/deny-all.toml FILE` with
# `wasm-tools validate --features all FILE` (pinned wasm-tools 1.263.0): median wall time,
# CPU seconds (user+sys), peak RSS, and the ratio check/validate (target: <= 1.5x).
#
# Usage: bench/check-vs-validate.sh [--runs N] [--cpu-runs M] [--policy P] [--no-build] [FILE...]
#
#   --runs N      timed runs per command for the wall time (default 5), after 1 warm-up run;
#                 the median is reported (hyperfine -N when installed, else a date loop).
#   --cpu-runs M  runs under GNU time (`/usr/bin/time`) per command (default 3): median
#                 user+sys CPU seconds and the largest peak RSS.
#   --policy P    policy for `check` (default bench/deny-all.toml: nothing allowed, so every
#                 reached capability and import is a finding, the most output `check` can make).
#   --no-build    skip `cargo build --release` (use the existing target/release/wasmgate).
#   FILE...       .wasm files; default: the 4 largest .wasm files in
#                 ${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}.
#
# `check` exits 1 when it finds violations; with the deny-all policy that is the expected
# result and is not a failure (exit 2, an input or policy error, is reported in a note).
# Standard output of every timed run goes to /dev/null; the warm-up run's output is counted
# (column "check output MB": `check` prints one finding per (entry point, capability)).
#
# Environment: WASM_TOOLS_ROOT (default $HOME/.cache/wasmgate/wasm-tools-1.263.0, installed
# there if missing), WASMGATE_CORPUS_DIR, CARGO_TARGET_DIR, BENCH_NO_HYPERFINE=1.
# The wasmgate binary is copied to a temporary directory before measuring, so a concurrent
# `cargo build` in the shared tree cannot swap it mid-run. The load average before and after
# is printed: on a shared machine, compare CPU seconds rather than wall time.
set -euo pipefail

RUNS=5
CPU_RUNS=3
BUILD=1
POLICY=
FILES=()
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS=$2; shift 2 ;;
        --runs=*) RUNS=${1#--runs=}; shift ;;
        --cpu-runs) [[ $# -ge 2 ]] || die "--cpu-runs needs a value"; CPU_RUNS=$2; shift 2 ;;
        --cpu-runs=*) CPU_RUNS=${1#--cpu-runs=}; shift ;;
        --policy) [[ $# -ge 2 ]] || die "--policy needs a value"; POLICY=$2; shift 2 ;;
        --policy=*) POLICY=${1#--policy=}; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage "$0"; exit 0 ;;
        --) shift; FILES+=("$@"); break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) FILES+=("$1"); shift ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
[[ "$CPU_RUNS" =~ ^[1-9][0-9]*$ ]] || die "--cpu-runs must be a positive integer, got '$CPU_RUNS'"
POLICY=${POLICY:-$DENY_ALL}
[[ -f "$POLICY" ]] || die "no such policy: $POLICY"
require_gnu_time

build_wasmgate "$BUILD"
ensure_wasm_tools
if [[ ${#FILES[@]} -eq 0 ]]; then
    mapfile -t FILES < <(corpus_files 4)
    [[ ${#FILES[@]} -gt 0 ]] || die "no .wasm files in $CORPUS_DIR"
fi
for f in "${FILES[@]}"; do [[ -f "$f" ]] || die "no such file: $f"; done

HYPERFINE=$(command -v hyperfine || true)
[[ -z "${BENCH_NO_HYPERFINE:-}" ]] || HYPERFINE=
if [[ -n "$HYPERFINE" ]]; then TIMER="hyperfine -N ($("$HYPERFINE" --version))"; else TIMER="date +%s%N loop"; fi
log "wasmgate:   $WASMGATE_DESC"
log "wasm-tools: $("$WASM_TOOLS" --version)"
log "timer:      $TIMER; runs=$RUNS (+1 warm-up); GNU time runs=$CPU_RUNS"

# wall_median NAME CMD...: median wall time over $RUNS runs (warm-up done by the caller or hyperfine)
wall_median() {
    local name=$1; shift
    if [[ -n "$HYPERFINE" ]]; then
        hyperfine_median "$name" "$RUNS" "$@"
    else
        measure "$RUNS" "$@" | cut -d' ' -f1
    fi
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
NOTES=()
HOLD=0
for f in "${FILES[@]}"; do
    name=$(basename "$f")
    size_mb=$(mb "$(stat -L -c %s "$f")")
    log "$name ($size_mb MB)"

    # warm-up (page cache) + exit status + output size
    set +e
    out_bytes=$("$WASMGATE" check --no-cache --policy "$POLICY" "$f" 2>"$TMP/wg.err" | wc -c)
    wg_rc=${PIPESTATUS[0]}
    "$WASM_TOOLS" validate --features all "$f" >/dev/null 2>"$TMP/wt.err"
    wt_rc=$?
    set -e
    [[ $wg_rc -le 1 ]] || NOTES+=("$name: wasmgate check exited $wg_rc: $(head -c 300 "$TMP/wg.err" | tr '\n' ' ')")
    [[ $wt_rc -eq 0 ]] || NOTES+=("$name: wasm-tools validate --features all rejects it: $(head -c 300 "$TMP/wt.err" | tr '\n' ' ')")

    wg_wall=$(wall_median wasmgate "$WASMGATE" check --no-cache --policy "$POLICY" "$f")
    wt_wall=$(wall_median wasm-tools "$WASM_TOOLS" validate --features all "$f")
    read -r _ wg_cpu wg_rss _ < <(measure "$CPU_RUNS" "$WASMGATE" check --no-cache --policy "$POLICY" "$f")
    read -r _ wt_cpu wt_rss _ < <(measure "$CPU_RUNS" "$WASM_TOOLS" validate --features all "$f")
    r_wall=$(ratio "$wg_wall" "$wt_wall")
    r_cpu=$(ratio "$wg_cpu" "$wt_cpu")
    verdict=$(awk -v r="$r_wall" 'BEGIN {print (r != "n/a" && r <= 1.5) ? "yes" : "no"}')
    [[ $verdict == yes ]] && HOLD=$((HOLD + 1))
    ROWS+=("| $name | $size_mb | $wg_wall | $wt_wall | **$r_wall** | $wg_cpu | $wt_cpu | $r_cpu | $wg_rss | $wt_rss | $wg_rc | $(mb "$out_bytes") | $verdict |")
done

echo
echo "wasmgate check --policy $(realpath --relative-to="$REPO_ROOT" "$POLICY" 2>/dev/null || echo "$POLICY") FILE  vs  wasm-tools validate --features all FILE"
machine_header
echo "wasm-tools: $("$WASM_TOOLS" --version); timer: $TIMER, median of $RUNS runs after 1 warm-up; CPU s = median user+sys of $CPU_RUNS runs under GNU time, peak RSS = max of them"
echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| file | size MB | check median s | validate median s | ratio wall | check CPU s | validate CPU s | ratio CPU | check peak RSS MB | validate peak RSS MB | check exit | check output MB | wall <= 1.5x |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${ROWS[@]}"
echo
for n in ${NOTES[@]+"${NOTES[@]}"}; do echo "note: $n"; done
echo "target check <= 1.5x validate (wall) holds on $HOLD of ${#FILES[@]} files"
