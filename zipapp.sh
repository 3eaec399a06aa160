#!/usr/bin/env bash
# Build symbi as one file: dist/symbi-<python version>-<platform>.pyz (and dist/symbi.pyz pointing at it).
#
#   ./zipapp.sh                                   for this interpreter and machine
#   ./zipapp.sh --python-version 3.12 --platform manylinux_2_28_x86_64
#                                                 for another Python / platform (binary wheels only)
#
# The file is a shiv zipapp: `python3 dist/symbi.pyz cron list` or `./dist/symbi.pyz cron list`. Compiled
# dependencies (pydantic-core, cryptography) are extracted on first run to ~/.shiv, or to $XDG_CACHE_HOME/shiv,
# or to a private directory under $TMPDIR when HOME is not writable (SHIV_ROOT=DIR chooses). They tie the file
# to one Python minor version and to the platform (with the default manylinux wheels: glibc >= 2.34 for
# cryptography); the build prints the binary wheels' tags.
#
# Needs: python3 with venv (Debian: python3-venv) and network access to PyPI (or a pip configured to a mirror /
# --find-links through PIP_* variables or pip.conf). When the building interpreter has no shiv (a fresh machine,
# Debian's externally managed python3), the script makes its own build environment: a virtualenv with shiv in
# $XDG_CACHE_HOME/symbi-zipapp (~/.cache/symbi-zipapp; a temporary one when that cannot be written), kept for the
# next build. The man pages travel inside the file (`symbi man`).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: zipapp.sh [--python-version X.Y] [--platform TAG]... [--python PYTHON] [--out DIR]

  --python-version X.Y  Python the file runs on (default: the building interpreter's)
  --platform TAG        wheel platform tag, e.g. manylinux_2_28_x86_64, manylinux_2_28_aarch64, macosx_11_0_arm64
                        (repeat for several; default: this machine)
  --python PYTHON       interpreter that builds (default: $PYTHON, else this checkout's .venv/bin/python
                        when it has shiv, else python3); without shiv, a build environment is made from it
  --out DIR             output directory (default: dist)
EOF
}

PYTHON="${PYTHON:-}"
PY_VERSION=""
PLATFORMS=()
OUT_DIR="dist"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --python-version) PY_VERSION="${2:?--python-version needs X.Y}"; shift 2 ;;
        --platform) PLATFORMS+=("${2:?--platform needs a tag}"); shift 2 ;;
        --python) PYTHON="${2:?--python needs an interpreter}"; shift 2 ;;
        --out) OUT_DIR="${2:?--out needs a directory}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "zipapp.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "$PYTHON" ]]; then
    # The README's test command installs shiv into the checkout's .venv; the system python3 rarely has it.
    if [[ -x "$here/.venv/bin/python" ]] && "$here/.venv/bin/python" -m shiv --version >/dev/null 2>&1; then
        PYTHON="$here/.venv/bin/python"
    else
        PYTHON="python3"
    fi
fi
if [[ "$PYTHON" == */* ]]; then
    PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"  # we cd later
fi
if ! "$PYTHON" -c 'import sys' >/dev/null 2>&1; then
    echo "zipapp.sh: cannot run the interpreter '$PYTHON'" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The build environment: the interpreter itself when it has shiv (and pip), else a virtualenv of it with shiv.
build_env() {
    local base="$1" version dir
    version="$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    dir="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/symbi-zipapp/build-env-$version"
    if [[ -x "$dir/bin/python" ]] && "$dir/bin/python" -m shiv --version >/dev/null 2>&1; then
        echo "$dir/bin/python"
        return 0
    fi
    if ! mkdir -p "$(dirname "$dir")" 2>/dev/null || [[ ! -w "$(dirname "$dir")" ]]; then
        dir="$work/build-env"  # no writable cache: a throwaway one
    fi
    rm -rf "$dir"
    echo "zipapp.sh: $base has no shiv: making a build environment in $dir" >&2
    if ! "$base" -m venv "$dir" >&2 2>"$work/venv.err"; then
        # No ensurepip (Debian without python3-venv's pip): an empty venv, filled by the system's pip.
        rm -rf "$dir"
        if "$base" -m venv --without-pip "$dir" >&2 && "$base" -m pip --version >/dev/null 2>&1; then
            "$base" -m pip --python "$dir/bin/python" install --quiet --disable-pip-version-check pip >&2 || {
                echo "zipapp.sh: cannot put pip into $dir (install python3-venv, or give --python one with shiv)" >&2
                return 1
            }
        else
            cat "$work/venv.err" >&2
            echo "zipapp.sh: $base cannot make a virtualenv: install python3-venv (Debian, Ubuntu)" >&2
            return 1
        fi
    fi
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "shiv>=1.0" >&2 || {
        echo "zipapp.sh: cannot install shiv into $dir (is PyPI, or your pip mirror, reachable?)" >&2
        return 1
    }
    echo "$dir/bin/python"
}

if ! "$PYTHON" -m shiv --version >/dev/null 2>&1 || ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    PYTHON="$(build_env "$PYTHON")" || exit 1
fi
native_version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
PY_VERSION="${PY_VERSION:-$native_version}"
if [[ ! "$PY_VERSION" =~ ^3\.[0-9]+$ ]]; then
    echo "zipapp.sh: --python-version must look like 3.12, not '$PY_VERSION'" >&2
    exit 2
fi
if [[ ${#PLATFORMS[@]} -gt 0 ]]; then
    platform_name="${PLATFORMS[0]}"
else
    platform_name="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')"
fi

echo "building symbi for Python $PY_VERSION on $platform_name"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$here"

target=(--target "$work/site")
if [[ "$PY_VERSION" != "$native_version" || ${#PLATFORMS[@]} -gt 0 ]]; then
    # Another interpreter or machine: binary wheels only, chosen for it (nothing compiled here).
    target+=(--only-binary=:all: --implementation cp --python-version "$PY_VERSION")
    for p in "${PLATFORMS[@]}"; do target+=(--platform "$p"); done
fi
"$PYTHON" -m pip install --quiet --no-compile --disable-pip-version-check "${target[@]}" "$work"/wheel/*.whl

# What ties the file to a platform: the binary wheels' tags.
grep -h '^Tag:' "$work"/site/*.dist-info/WHEEL | grep -v -- '-none-any' | sort -u | sed 's/^Tag: /  binary wheel: /' || true

mkdir -p "$OUT_DIR"
out="$OUT_DIR/symbi-$PY_VERSION-$platform_name.pyz"
"$PYTHON" -m shiv --quiet --site-packages "$work/site" --entry-point symbi_cron.cli:main \
    --python "/usr/bin/env python3" --compressed --reproducible --output-file "$work/symbi.pyz" \
    --disable-pip-version-check --no-deps --no-index --upgrade "$work"/wheel/*.whl  # shiv wants a requirement: ours again

# shiv extracts to ~/.shiv unless SHIV_ROOT says otherwise, and fails when HOME is not writable: put a small
# __main__ in front of its bootstrap that picks a writable, private root first.
"$PYTHON" - "$work/symbi.pyz" "$out" <<'PY'
import sys
import zipfile

src, dst = sys.argv[1], sys.argv[2]
MAIN = '''\
# symbi: choose where shiv extracts the compiled dependencies before its bootstrap runs.
import os
import stat


def _private_writable(path):
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return False
    # A shared place (the temp dir) must be ours alone: code is loaded from it.
    mine = st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return mine and os.access(path, os.W_OK | os.X_OK)


def _choose_root():
    if os.environ.get("SHIV_ROOT"):
        return
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates = [os.path.expanduser("~/.shiv"), os.path.join(cache, "shiv")]
    if _private_writable(candidates[0]):
        return  # shiv's default: nothing to change (and tempfile stays unimported: start-up time)
    import tempfile

    candidates.append(os.path.join(tempfile.gettempdir(), "symbi-shiv-%d" % os.getuid()))
    for path in candidates[1:]:
        if _private_writable(path):
            os.environ["SHIV_ROOT"] = path
            return
    os.environ["SHIV_ROOT"] = tempfile.mkdtemp(prefix="symbi-shiv-")


if hasattr(os, "getuid"):
    _choose_root()

import _bootstrap  # noqa: E402  (shiv's)

_bootstrap.bootstrap()
'''
with open(src, "rb") as fh:
    data = fh.read()
shebang = data[: data.index(b"\n") + 1] if data.startswith(b"#!") else b""
with zipfile.ZipFile(src) as zin, open(dst, "wb") as fout:
    fout.write(shebang)
    with zipfile.ZipFile(fout, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = MAIN.encode() if info.filename == "__main__.py" else zin.read(info)
            zout.writestr(info, body)
PY
chmod 755 "$out"
ln -sf "$(basename "$out")" "$OUT_DIR/symbi.pyz"

size="$(du -h "$out" | cut -f1)"
echo "built $out ($size) and $OUT_DIR/symbi.pyz -> $(basename "$out")"
if [[ "$PY_VERSION" == "$native_version" && ${#PLATFORMS[@]} -eq 0 ]]; then
    out_abs="$(cd "$OUT_DIR" && pwd)/$(basename "$out")"
    (cd / && "$PYTHON" -I "$out_abs" --version)
fi
