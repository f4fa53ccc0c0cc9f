#!/bin/bash
# pip install of the package as the README says (offline, Debian's setuptools,
# no build isolation) into a scratch venv, then a smoke run against this build's
# library. The source is copied first: a build leaves build/ and *.egg-info behind.
#   usage: install_test.sh PYTHON PACKAGE_SOURCE_DIR
set -euo pipefail
python=$1 src=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null || ! "$python" -m pip --version >/dev/null 2>&1 ||
   ! "$python" -c 'import setuptools' 2>/dev/null; then
    echo "skipped: needs pip, venv and setuptools (Debian: apt-get install python3-pip python3-venv python3-setuptools)"
    exit 77
fi
cp -r "$src" "$scratch/src"
"$python" -m venv --system-site-packages "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet --no-build-isolation --no-index "$scratch/src"
unset PYTHONPATH
cd "$scratch"   # not the source tree: import the installed copy
"$scratch/venv/bin/python" - <<'PY'
import os, streamlog
assert streamlog.__file__.startswith(os.getcwd() + "/venv/"), streamlog.__file__
with streamlog.open("store") as st:
    ch = st.channel("c", create=True)
    assert ch.append(b"installed") == 1
    assert [m.data for m in ch.iter()] == [b"installed"]
print("pip-installed package works:", streamlog.__file__, "library", streamlog.library_version())
PY
