# Shared helpers for the bench/*.sh scripts that source it. Sourced, not executed.
# (bench/inspect-vs-validate.sh is older and self-contained.)
#
# Expects REPO_ROOT to be set by the caller. Defines:
#   WASMGATE (a private copy of the release binary, see build_wasmgate), WASM_TOOLS,
#   CORPUS_DIR, GNU_TIME, TMP (removed on exit), and the functions below.

WASM_TOOLS_VERSION=1.263.0
WASM_TOOLS_ROOT=${WASM_TOOLS_ROOT:-$HOME/.cache/wasmgate/wasm-tools-$WASM_TOOLS_VERSION}
WASM_TOOLS=$WASM_TOOLS_ROOT/bin/wasm-tools
CORPUS_DIR=${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$REPO_ROOT/$TARGET_DIR ;; esac
DENY_ALL=$REPO_ROOT/bench/deny-all.toml

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

die() { echo "error: $*" >&2; exit 2; }
log() { echo ">> $*" >&2; }

# Prints the comment block at the top of the calling script (its --help).
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$1"; }

# build_wasmgate BUILD: `cargo build --release` (plus $BENCH_CARGO_FLAGS, e.g.
# --no-default-features) when BUILD is 1, then copy the binary to $TMP so that a concurrent
# build in the shared work tree cannot replace it mid-measurement.
build_wasmgate() {
    if [[ $1 -eq 1 ]]; then
        log "cargo build --release --bin wasmgate ${BENCH_CARGO_FLAGS:-}(in $REPO_ROOT)"
        # shellcheck disable=SC2086 # the flags are words
        (cd "$REPO_ROOT" && cargo build --release --bin wasmgate ${BENCH_CARGO_FLAGS:-}) >&2
    fi
    local built=$TARGET_DIR/release/wasmgate
    [[ -x "$built" ]] || die "$built not found (build failed, or run without --no-build)"
    cp "$built" "$TMP/wasmgate"
    WASMGATE=$TMP/wasmgate
    WASMGATE_DESC="$("$WASMGATE" --version) (tree $(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown), built $(date -u -r "$built" +%H:%MZ))"
}

# ensure_wasm_tools: install wasm-tools at the pinned version if missing.
ensure_wasm_tools() {
    wasm_tools_ok() { [[ -x "$WASM_TOOLS" ]] && [[ "$("$WASM_TOOLS" --version 2>/dev/null)" == "wasm-tools $WASM_TOOLS_VERSION"* ]]; }
    if ! wasm_tools_ok; then
        log "installing wasm-tools $WASM_TOOLS_VERSION into $WASM_TOOLS_ROOT (takes several minutes)"
        cargo install wasm-tools --version "$WASM_TOOLS_VERSION" --locked --root "$WASM_TOOLS_ROOT" \
            --no-default-features --features validate >&2
        wasm_tools_ok || die "$WASM_TOOLS is not wasm-tools $WASM_TOOLS_VERSION after install"
    fi
}

GNU_TIME=
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>/dev/null; then GNU_TIME=/usr/bin/time; fi
require_gnu_time() { [[ -n "$GNU_TIME" ]] || die "GNU time is needed at /usr/bin/time (Debian: apt-get install time)"; }

# corpus_files [N]: the .wasm files of $CORPUS_DIR (top level), largest first; the first N if given.
corpus_files() {
    [[ -d "$CORPUS_DIR" ]] || die "corpus dir $CORPUS_DIR missing (see corpus/README.md)"
    find "$CORPUS_DIR" -maxdepth 1 -type f -name '*.wasm' -printf '%s\t%p\n' \
        | sort -t$'\t' -k1,1nr -k2,2 | { if [[ $# -gt 0 ]]; then head -n "$1"; else cat; fi; } | cut -f2-
}

# median of the numbers on stdin (one per line)
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit}
    if (NR%2) printf "%.4f\n", v[(NR+1)/2]; else printf "%.4f\n", (v[NR/2]+v[NR/2+1])/2}'; }

# timed_run CMD...: one run of CMD (stdout and stderr to /dev/null) under GNU time; prints
# "<wall s> <user+sys CPU s> <peak RSS MB> <exit status>". Wall time from date +%s%N
# (GNU time's %e has only 10 ms resolution).
timed_run() {
    local t0 t1 rc=0
    t0=$(date +%s%N)
    "$GNU_TIME" -f '%U %S %M %x' -o "$TMP/gnutime.txt" "$@" >/dev/null 2>&1 || rc=$?
    t1=$(date +%s%N)
    # GNU time writes "Command exited with non-zero status N" before the format line.
    tail -n 1 "$TMP/gnutime.txt" | awk -v w="$(( t1 - t0 ))" -v rc="$rc" \
        '{printf "%.4f %.2f %.1f %s\n", w/1e9, $1+$2, $3/1024, rc}'
}

# measure RUNS CMD...: RUNS runs of timed_run (after the caller's warm-up); prints
# "<median wall s> <median CPU s> <max peak RSS MB> <exit status of the last run>".
measure() {
    local runs=$1; shift
    local i
    : >"$TMP/runs.txt"
    for ((i = 0; i < runs; i++)); do timed_run "$@" >>"$TMP/runs.txt"; done
    local wall cpu rss rc
    wall=$(cut -d' ' -f1 "$TMP/runs.txt" | median)
    cpu=$(cut -d' ' -f2 "$TMP/runs.txt" | median)
    rss=$(cut -d' ' -f3 "$TMP/runs.txt" | sort -g | tail -n 1)
    rc=$(tail -n 1 "$TMP/runs.txt" | cut -d' ' -f4)
    printf '%.4f %.2f %s %s\n' "$wall" "$cpu" "$rss" "$rc"
}

# hyperfine_median NAME RUNS CMD...: median wall time of CMD over RUNS runs (1 warm-up) with
# hyperfine -N; output to /dev/null, non-zero exit tolerated.
hyperfine_median() {
    local name=$1 runs=$2; shift 2
    local cmdline
    cmdline=$(printf '%q ' "$@")
    # stderr only carries "Ignoring non-zero exit code" warnings unless hyperfine fails
    hyperfine -N --style none --ignore-failure --warmup 1 --runs "$runs" --command-name "$name" \
        --export-csv "$TMP/$name.csv" -- "$cmdline" >/dev/null 2>"$TMP/hyperfine.err" \
        || { cat "$TMP/hyperfine.err" >&2; die "hyperfine failed on: $cmdline"; }
    # columns: command,mean,stddev,median,user,system,min,max
    awk -F, 'NR == 2 {printf "%.4f\n", $4}' "$TMP/$name.csv"
}

mb() { awk -v s="$1" 'BEGIN {printf "%.2f", s/1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "n/a"}'; }

# machine_header: one line per fact, for the report.
machine_header() {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
    echo "wasmgate: $WASMGATE_DESC"
}

# parse_size_args ARGS...: the options of the per-file size benchmarks (rss-vs-size.sh,
# rss-formats.sh): --runs N, --no-build, -h/--help, -- and FILE..., into RUNS, BUILD and
# FILES (the caller sets their defaults). A script with options of its own defines
# own_option OPT, which returns 0 when it took OPT.
parse_size_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS=$2; shift 2 ;;
            --runs=*) RUNS=${1#--runs=}; shift ;;
            --no-build) BUILD=0; shift ;;
            -h|--help) usage "$0"; exit 0 ;;
            --) shift; FILES+=("$@"); break ;;
            -*)
                if declare -F own_option >/dev/null && own_option "$1"; then shift
                else die "unknown option $1 (see --help)"; fi ;;
            *) FILES+=("$1"); shift ;;
        esac
    done
    [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
}

# size_files: FILES, or every corpus binary plus corpus/c/*.wasm when none were given,
# checked to exist and sorted largest first.
size_files() {
    if [[ ${#FILES[@]} -eq 0 ]]; then
        mapfile -t FILES < <(corpus_files; find "$REPO_ROOT/corpus/c" -maxdepth 1 -name '*.wasm' 2>/dev/null | sort)
        [[ ${#FILES[@]} -gt 0 ]] || die "no .wasm files found"
    fi
    local f
    for f in "${FILES[@]}"; do [[ -f "$f" ]] || die "no such file: $f"; done
    mapfile -t FILES < <(for f in "${FILES[@]}"; do printf '%s\t%s\n' "$(stat -L -c %s "$f")" "$f"; done \
        | sort -t$'\t' -k1,1nr -k2,2 | cut -f2-)
}
