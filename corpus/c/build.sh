#!/usr/bin/env bash
# Rebuilds the C corpus: the three WASI preview 1 core modules from source,
# then the componentize tool, then one WASI 0.2 command component per module.
# Records the toolchain versions in BUILD-INFO.txt.
#
# Needs (Debian 12): apt-get install clang lld wasi-libc libclang-rt-dev-wasm32
# plus a Rust toolchain. Tests use the committed .wasm files, so CI needs none
# of this.
#
# Environment:
#   CC                 C compiler (default: clang)
#   CARGO_TARGET_DIR   where the componentize tool is built
#                      (default: ${TMPDIR:-/tmp}/componentize-target, outside the repo)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool_dir="$(cd "$here/../tools/componentize" && pwd)"
cc="${CC:-clang}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/componentize-target}"
programs=(copy envprint compute)

# -O2 as the corpus spec says. --strip-debug drops only the DWARF sections
# (Debian's libc.a carries full debug info, which would make the modules ~6x
# larger and embed build paths); the `name` section with function names stays.
cflags=(--target=wasm32-wasi -O2 -Wall -Wextra -Werror -Wl,--strip-debug)

step() { printf '==> %s\n' "$*"; }

for p in "${programs[@]}"; do
    step "$cc ${cflags[*]} -o $p.wasm $p.c"
    "$cc" "${cflags[@]}" -o "$here/$p.wasm" "$here/$p.c"
done

# Second versions of corpus programs, for `wasmgate diff OLD NEW` (core modules only; kept
# in versions/ so the whole-corpus tests stay about the three programs above).
for v in compute_env; do
    step "$cc ${cflags[*]} -o versions/$v.wasm versions/$v.c"
    "$cc" "${cflags[@]}" -o "$here/versions/$v.wasm" "$here/versions/$v.c"
done

step "cargo build --release --locked (componentize, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --locked --quiet --manifest-path "$tool_dir/Cargo.toml"
componentize="$CARGO_TARGET_DIR/release/componentize"

for p in "${programs[@]}"; do
    step "componentize $p.wasm $p.component.wasm"
    "$componentize" "$here/$p.wasm" "$here/$p.component.wasm"
done

# Versions of everything that shaped the committed bytes.
lock_version() { # crate name -> version from the tool's Cargo.lock
    awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
        "$tool_dir/Cargo.lock"
}
deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
rt_pkg="$(dpkg-query -W -f='${Package}\n' 'libclang-rt-*-dev-wasm32' 2>/dev/null | head -n1 || true)"

step "writing BUILD-INFO.txt"
{
    echo "# Written by build.sh; do not edit by hand."
    echo "clang: $("$cc" --version | head -n1)"
    echo "cflags: ${cflags[*]}"
    echo "wasi-libc (Debian package): $(deb_version wasi-libc)"
    echo "lld (Debian package): $(deb_version lld)"
    echo "compiler-rt wasm32 builtins (Debian package ${rt_pkg:-?}): $(deb_version "${rt_pkg:-libclang-rt-dev-wasm32}")"
    echo "wit-component: $(lock_version wit-component)"
    echo "wasi-preview1-component-adapter-provider: $(lock_version wasi-preview1-component-adapter-provider) (command adapter)"
    echo "wasmparser: $(lock_version wasmparser)"
    echo "rustc: $(rustc --version)"
    echo
    echo "# sha256"
    for p in "${programs[@]}"; do
        (cd "$here" && sha256sum "$p.c" "$p.wasm" "$p.component.wasm")
    done
    (cd "$here" && sha256sum versions/compute_env.c versions/compute_env.wasm)
} > "$here/BUILD-INFO.txt"

step "done"
cat "$here/BUILD-INFO.txt"
