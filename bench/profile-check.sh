#!/usr/bin/env bash
# Profile `wasmgate check --policy bench/deny-all.toml FILE` once per file and print the top
# entries: self time (where the CPU is spent) and inclusive time (which phase it belongs to).
#
# Usage: bench/profile-check.sh [--callgrind] [--top N] [--keep DIR] [--no-build] [FILE...]
#
#   (default)     perf record --call-graph dwarf (sampling; needs perf_event_paranoid <= 2
#                 for a user-space profile of your own process). Statistical: shares vary a
#                 few % run to run, and on a loaded machine the wall time does too.
#   --callgrind   valgrind --tool=callgrind instead: exact, repeatable instruction counts
#                 (Ir), ~50x slower, threads run one at a time. Use on mid-size binaries.
#                 Caveat: under valgrind the sha2 crate does not detect the CPU's SHA
#                 extensions and runs its portable code, so SHA-256 looks several times
#                 costlier than natively (ffmpeg-core: ~37% of Ir vs ~9% of perf samples).
#   --top N       entries per table (default 25).
#   --keep DIR    keep perf.data / callgrind.out files in DIR (default: deleted).
#   --no-build    skip `cargo build --release`.
#   FILE...       default: the largest corpus binary and ffmpeg-core.wasm.
#
# The release profile keeps line tables (`debug = "line-tables-only"` in Cargo.toml), so
# symbols and inlined frames resolve without changing the build.
set -euo pipefail

TOOL=perf
TOP=25
KEEP=
BUILD=1
FILES=()
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --callgrind) TOOL=callgrind; shift ;;
        --top) [[ $# -ge 2 ]] || die "--top needs a value"; TOP=$2; shift 2 ;;
        --keep) [[ $# -ge 2 ]] || die "--keep needs a value"; KEEP=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage "$0"; exit 0 ;;
        --) shift; FILES+=("$@"); break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) FILES+=("$1"); shift ;;
    esac
done
[[ "$TOP" =~ ^[1-9][0-9]*$ ]] || die "--top must be a positive integer"
command -v "$([[ $TOOL == perf ]] && echo perf || echo valgrind)" >/dev/null \
    || die "$TOOL not installed (Debian: apt-get install linux-perf / valgrind)"
build_wasmgate "$BUILD"
if [[ ${#FILES[@]} -eq 0 ]]; then
    FILES=("$(corpus_files 1)")
    [[ -f "$CORPUS_DIR/ffmpeg-core.wasm" ]] && FILES+=("$CORPUS_DIR/ffmpeg-core.wasm")
fi
OUT=${KEEP:-$TMP}
mkdir -p "$OUT"

# Shorten Rust symbols: drop hashes and generic arguments, keep the path.
shorten() { sed -E 's/::h[0-9a-f]{16}//g; s/ +- +- *$//; s/ +$//' | cut -c1-160; }
# callgrind_annotate lines "Ir (pct)  file:function [object]" -> "Ir (pct)  function (file)".
cgshort() { sed -E 's/ \[[^]]*\]$//; s/^( *[0-9,]+ +\([ 0-9.%]+\))  ([^ :]*):(.*)$/\1  \3  (\2)/; s|\(/root/\.cargo/registry/src/[^/]*/|(|; s|\(/rustc/[0-9a-f]*/|(|' | shorten; }
# The data lines of a perf report (percentages), shortened.
entries() { grep -E '^ +[0-9]+\.[0-9]+%' "$@" | shorten; }

machine_header
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for f in "${FILES[@]}"; do
    [[ -f "$f" ]] || die "no such file: $f"
    name=$(basename "$f" .wasm)
    echo
    echo "## $name ($(mb "$(stat -L -c %s "$f")") MB): wasmgate check --policy bench/deny-all.toml $(basename "$f")"
    if [[ $TOOL == perf ]]; then
        data=$OUT/perf-$name.data
        perf record -q -F 499 --call-graph dwarf,16384 -o "$data" -- \
            "$WASMGATE" check --no-cache --policy "$DENY_ALL" "$f" >/dev/null 2>"$TMP/perf.err" || true
        perf report -i "$data" --no-children --sort symbol --percent-limit 0.3 --stdio -g none \
            >"$TMP/self.txt" 2>/dev/null
        perf report -i "$data" --children --sort symbol --percent-limit 1 --stdio -g none \
            >"$TMP/children.txt" 2>/dev/null
        echo
        echo "$(grep -m1 -E '^# Samples' "$TMP/self.txt" | sed 's/^# //'), at 499 Hz"
        echo
        echo "### self (perf report --no-children), top $TOP, % of samples"
        echo '```'
        entries "$TMP/self.txt" | head -n "$TOP" || true
        echo '```'
        echo
        echo "### by shared object (perf report --sort dso)"
        echo '```'
        perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | entries || true
        echo '```'
        echo
        echo "### inclusive (perf report --children): named wasmgate/wasmparser/sha2/drop frames (not closures), top $TOP, % of samples"
        echo '```'
        entries "$TMP/children.txt" \
            | grep -E '\] (wasmgate|wasmparser|sha2|serde_json|core::ptr::drop_in_place<(alloc::vec::Vec<)?wasmgate|<std::sys::thread)' \
            | grep -v '(inlined)' | head -n "$TOP" || true
        echo '```'
    else
        cg=$OUT/callgrind-$name.out
        valgrind --tool=callgrind --callgrind-out-file="$cg" \
            "$WASMGATE" check --policy "$DENY_ALL" "$f" >/dev/null 2>"$TMP/cg.err" || true
        grep -E 'Collected' "$TMP/cg.err" || true
        callgrind_annotate --inclusive=no "$cg" >"$TMP/self.txt" 2>/dev/null
        callgrind_annotate --inclusive=yes "$cg" >"$TMP/incl.txt" 2>/dev/null
        echo
        echo "### self (callgrind_annotate), top $TOP, instructions (Ir)"
        echo '```'
        grep -E '^ *[0-9,]+ +\(' "$TMP/self.txt" | cgshort | head -n "$TOP" || true
        echo '```'
        echo
        echo "### inclusive (callgrind_annotate --inclusive=yes): named wasmgate/wasmparser/sha2/drop functions, top $TOP"
        echo '```'
        grep -E '^ *[0-9,]+ +\(' "$TMP/incl.txt" | cgshort \
            | grep -E '\)  (PROGRAM|wasmgate|<wasmgate|wasmparser|<wasmparser|sha2|serde_json|core::ptr::drop_in_place<(alloc::vec::Vec<)?wasmgate)' \
            | head -n "$TOP" || true
        echo '```'
    fi
done
