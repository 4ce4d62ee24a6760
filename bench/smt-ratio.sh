#!/usr/bin/env bash
# SMT time as a ratio of analysis time (issue 13): `wasmgate check` of one binary with a
# `[[calls]]` constraint on the first parameter of every WASI preview 1 import it imports,
# against the same check without them. SMT time = (with - without); ratio = SMT / without.
# Times are CPU seconds (user + sys, GNU time), the median of RUNS runs, with --no-cache.
#
# Usage: bench/smt-ratio.sh [--no-build] [--binary PATH] [--runs N] [FILE]
#   FILE      default: the largest corpus binary importing wasi_snapshot_preview1
#   --binary  measure this wasmgate instead of building and copying the release one
#   --runs    runs per variant (default 3)
#
# The constraint per import is `max = 4294967295` on its first named parameter (from
# rules/capabilities/signatures/wasi-p1.toml), which every i32 satisfies, so every call
# site is evaluated and queried; imports without parameters are listed and skipped.
# Target: ratio under 2.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO_ROOT/bench/lib.sh"

build=1 binary="" runs=3 file=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-build) build=0 ;;
        --binary) binary=$2; shift ;;
        --runs) runs=$2; shift ;;
        -h|--help) usage "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) file=$1 ;;
    esac
    shift
done

if [[ -n $binary ]]; then
    cp "$binary" "$TMP/wasmgate"
    WASMGATE=$TMP/wasmgate
else
    build_wasmgate "$build"
fi
if [[ -z $file ]]; then
    # Largest first; the import module name appears verbatim in the import section.
    for f in $(ls -S "$CORPUS_DIR"/*.wasm); do
        if grep -q -a wasi_snapshot_preview1 "$f"; then file=$f; break; fi
    done
fi
[[ -f $file ]] || die "no binary to measure"

sigs=$REPO_ROOT/rules/capabilities/signatures/wasi-p1.toml
policy_base=$TMP/base.toml
policy_smt=$TMP/smt.toml
printf '[capabilities]\nallow = ["*"]\n' > "$policy_base"
cp "$policy_base" "$policy_smt"
"$WASMGATE" inspect --format json "$file" > "$TMP/inspect.json"
python3 - "$TMP/inspect.json" "$sigs" >> "$policy_smt" <<'PY'
import json, sys, tomllib
imports = json.load(open(sys.argv[1]))["imports"]
sigs = tomllib.load(open(sys.argv[2], "rb"))["functions"]
n = 0
for i in imports:
    if i["kind"] != "func" or i["module"] != "wasi_snapshot_preview1":
        continue
    params = sigs.get(i["name"], [])
    if not params:
        print(f"skipped (no parameter): {i['id']}", file=sys.stderr)
        continue
    n += 1
    print(f'\n[[calls]]\nimport = "{i["id"]}"\narg = "{params[0]}"\nmax = 4294967295')
print(f"{n} constrained WASI imports", file=sys.stderr)
PY

cpu() { # policy -> CPU seconds of one check (exit 1 is findings; GNU time then adds a line)
    local rc=0
    "$GNU_TIME" -f "%U %S" -o "$TMP/t" "$WASMGATE" check --no-cache --policy "$1" "$file" \
        --format json > /dev/null || rc=$?
    [[ $rc -le 1 ]] || die "check exited $rc"
    tail -n 1 "$TMP/t" | awk '{printf "%.2f\n", $1 + $2}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

log "file: $file ($(stat -c %s "$file") bytes); load: $(cut -d' ' -f1-3 /proc/loadavg)"
base=$(for _ in $(seq "$runs"); do cpu "$policy_base"; done | median)
smt=$(for _ in $(seq "$runs"); do cpu "$policy_smt"; done | median)
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v b="$base" -v s="$smt" -v f="$(basename "$file")" 'BEGIN {
    d = s - b; if (d < 0) d = 0
    printf "%s: check %.2f s without [[calls]], %.2f s with; SMT %.2f s = %.2fx analysis (target < 2x)\n", f, b, s, d, d / (b > 0 ? b : 0.01)
}'
