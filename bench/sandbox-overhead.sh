#!/usr/bin/env bash
# Overhead of `wasmgate run` (traced, capability-minimal, copied preopens, virtual clocks,
# limits, cross-check) over a plain wasmtime-wasi embedding of the same wasmtime version
# (sandbox-harness/examples/plain_wasi.rs; the wasmtime CLI is not built here), for a guest
# making many host calls (corpus/c/copy.wasm on a SIZE_MB file, 64 KiB per read/write) and
# one making few (corpus/c/compute.wasm). Wall time of the whole process, median of RUNS.
# Both sides cache compiled code (wasmtime's cache, each in its own fresh directory, warmed
# by one run before timing), as `wasmtime run` does by default: what is timed is loading
# the cached code and running, not compiling.
#
# Usage: bench/sandbox-overhead.sh [--no-build] [SIZE_MB (default 64)] [RUNS (default 7)]
# Builds with the dev profile (dependencies, wasmtime included, at opt-level 2); set
# PROFILE=release to build and measure release binaries instead.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=1
if [[ ${1:-} == --no-build ]]; then BUILD=0; shift; fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0; fi
SIZE_MB=${1:-64}
RUNS=${2:-7}
PROFILE=${PROFILE:-dev}
DIR=debug; FLAG=()
if [[ $PROFILE == release ]]; then DIR=release; FLAG=(--release); fi
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
if [[ $BUILD -eq 1 ]]; then
    (cd "$REPO_ROOT" && cargo build --locked "${FLAG[@]}" --bin wasmgate \
        && cargo build --locked "${FLAG[@]}" -p wasmgate-sandbox-harness --example plain_wasi) >&2
fi
WASMGATE=$TARGET_DIR/$DIR/wasmgate
PEER=$TARGET_DIR/$DIR/examples/plain_wasi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_CACHE_HOME=$TMP/cache

mkdir -p "$TMP/in" "$TMP/out"
head -c $((SIZE_MB << 20)) /dev/urandom > "$TMP/in/big"
cat > "$TMP/policy.toml" <<TOML
[sandbox]
[[sandbox.preopens]]
host = "in"
guest = "/in"
mode = "ro"
[[sandbox.preopens]]
host = "out"
guest = "/out"
mode = "rw"
TOML

# median_ms CMD...: runs CMD $RUNS times (output discarded) and prints the median in ms.
median_ms() {
    local t=() s e
    for _ in $(seq "$RUNS"); do
        rm -f "$TMP/out/big"
        s=$(date +%s%N)
        "$@" > /dev/null 2>&1 || true
        e=$(date +%s%N)
        t+=($(((e - s) / 1000000)))
    done
    printf '%s\n' "${t[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

C=$REPO_ROOT/corpus/c
PEER_CACHE=(--cache "$TMP/cache/plain")
# Warm both caches (the wasmgate runs below warm its own, in $XDG_CACHE_HOME).
"$PEER" "$C/copy.wasm" "${PEER_CACHE[@]}" > /dev/null 2>&1 || true
"$PEER" "$C/compute.wasm" "${PEER_CACHE[@]}" > /dev/null 2>&1 || true
calls=$("$WASMGATE" run "$C/copy.wasm" --policy "$TMP/policy.toml" --format json -- /in/big /out/big \
    | sed -n 's/.*"host_calls": *\([0-9]*\).*/\1/p' || true)
# compute.wasm exits with its checksum: exit 1 from wasmgate is expected.
few=$("$WASMGATE" run "$C/compute.wasm" --format json | sed -n 's/.*"host_calls": *\([0-9]*\).*/\1/p' || true)
printf '%-28s %10s %10s %10s %6s\n' guest "host calls" "wasmgate" "peer" ratio
row() {
    local name=$1 n=$2 a=$3 b=$4
    printf '%-28s %10s %8s ms %7s ms %6s\n' "$name" "$n" "$a" "$b" "$(echo "scale=2; $a / $b" | bc)"
}
a=$(median_ms "$WASMGATE" run "$C/copy.wasm" --policy "$TMP/policy.toml" -- /in/big /out/big)
b=$(median_ms "$PEER" "$C/copy.wasm" "${PEER_CACHE[@]}" --dir "$TMP/in::/in" --dir "$TMP/out::/out" -- /in/big /out/big)
row "copy.wasm ${SIZE_MB} MiB" "$calls" "$a" "$b"
a=$(median_ms "$WASMGATE" run "$C/compute.wasm")
b=$(median_ms "$PEER" "$C/compute.wasm" "${PEER_CACHE[@]}")
row "compute.wasm" "$few" "$a" "$b"
echo "($PROFILE profile, median of $RUNS, load $(cut -d' ' -f1-3 /proc/loadavg))"
