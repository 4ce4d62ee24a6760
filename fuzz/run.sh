#!/usr/bin/env bash
# Runs one fuzz target the way FUZZING.md's statistics were taken: low priority (FUZZ_NICE,
# default 19), one in-process worker,
# 10 minutes by default. Usage: fuzz/run.sh TARGET [SECONDS]   (from the repository root)
# The log goes to fuzz/logs/TARGET.log (ignored); crashes land in fuzz/artifacts/TARGET/.
set -euo pipefail
target=$1
secs=${2:-600}
cd "$(dirname "$0")"
mkdir -p "corpus/$target" logs
dirs=("corpus/$target")
[[ -d "seeds/$target" ]] && dirs+=("seeds/$target")
extra=(-timeout=60)
case $target in
  # wasm-smith targets: full-size inputs from the start (tiny ones give empty modules), and
  # the plain scheduler: entropic's feature bookkeeping dominated wasmtime's large binary.
  analyze_smith) extra+=(-len_control=0 -max_len=8192) ;;
  soundness) extra+=(-len_control=0 -max_len=8192 -entropic=0) ;;
  policy_toml) extra+=(-dict=policy_toml.dict) ;;
esac
# Built first (one build at a time: cargo's lock), then run in-process (no -jobs): with -jobs
# libFuzzer writes to fuzz-0.log in the working directory, which two targets run side by side
# would share and overwrite.
cargo +nightly fuzz build "$target" > "logs/$target.build" 2>&1
nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
  -max_total_time="$secs" -rss_limit_mb=4096 "${extra[@]}" \
  > "logs/$target.log" 2>&1 || status=$?
grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "logs/$target.log" | tail -1
grep -E 'ERROR|panicked|SUMMARY|Test unit written' "logs/$target.log" || true
exit "${status:-0}"
