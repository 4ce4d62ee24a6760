#!/usr/bin/env bash
# Regenerates the example audit reports linked from the README (docs/audit/):
# copy.{md,html} (corpus/c/copy.wasm against stdio-only.toml), numcodecs-identity.{md,html}
# (a third-party Rust component from the fetched corpus), and app.{md,html,png} (the
# hostile-names fixture, written by the Chromium test when WASMGATE_AUDIT_DOCS is set).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
wasmgate=${WASMGATE:-$root/target/debug/wasmgate}
corpus=${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
out=$root/docs/audit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/corpus/c/copy.wasm" "$root/corpus/fixtures/policy/stdio-only.toml" "$work/"
cp "$corpus/numcodecs-wasm-identity.wasm" "$work/"
cd "$work"
# Exit status 1 is the expected verdict (reject) of these examples.
for fmt in md html; do
  "$wasmgate" audit copy.wasm --policy stdio-only.toml --now 2026-01-01 -o "$out/copy.$fmt" \
    || [ $? -eq 1 ]
  "$wasmgate" audit numcodecs-wasm-identity.wasm --policy stdio-only.toml --now 2026-01-01 \
    -o "$out/numcodecs-identity.$fmt" || [ $? -eq 1 ]
done
cd "$root"
WASMGATE_AUDIT_DOCS=$out cargo test --locked --test all audit_html_loads_in_headless_chromium
