#!/usr/bin/env bash
# Installs Microsoft's SARIF Multitool (used by the SARIF validation test) into a cache dir,
# through npm as an ordinary package client. Idempotent. The tests run it with
# DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1, so no ICU library is needed.
set -euo pipefail
version="5.7.0"
dir="${WASMGATE_SARIF_MULTITOOL_DIR:-$HOME/.cache/wasmgate/sarif-multitool}"
tool="$dir/package/Sarif.Multitool"
if [ -x "$tool" ] && [ -f "$dir/.version-$version" ]; then
  exit 0
fi
mkdir -p "$dir"
cd "$dir"
rm -rf package ./*.tgz
npm pack --silent "@microsoft/sarif-multitool-linux@$version" >/dev/null
tar xzf "microsoft-sarif-multitool-linux-$version.tgz"
chmod +x package/Sarif.Multitool
rm -f "microsoft-sarif-multitool-linux-$version.tgz"
touch ".version-$version"
echo "SARIF Multitool $version installed at $tool"
