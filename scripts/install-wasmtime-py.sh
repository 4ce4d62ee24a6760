#!/usr/bin/env bash
# Installs the PyPI `wasmtime` package (prebuilt real wasmtime) into a venv under
# ~/.cache/wasmgate/pyenv, for the soundness fixtures' liveness runner
# (corpus/fixtures/soundness/run_live.py). Cached: does nothing when already installed.
set -euo pipefail
version=50.0.1
venv="${WASMGATE_PYENV:-$HOME/.cache/wasmgate/pyenv}"
if "$venv/bin/python" -c "import wasmtime, importlib.metadata as m; assert m.version('wasmtime') == '$version'" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "wasmtime==$version"
