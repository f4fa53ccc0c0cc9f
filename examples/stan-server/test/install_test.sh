#!/bin/bash
# `meson install` puts stan-server and its man page in place: install into a scratch directory,
# run the installed server's --version and check the man page is there and formats.
#   usage: install_test.sh BUILD_DIR
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet
opt() { meson introspect "$build" --buildoptions |
        python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name']=='$1'][0])"; }
root="$dest$(opt prefix)"
bin="$root/$(opt bindir)/stan-server"
man="$root/$(opt mandir)/man1/stan-server.1"
test -x "$bin" || { echo "stan-server not installed at $bin"; exit 1; }
test -f "$man" || { echo "man page not installed at $man"; exit 1; }
LD_LIBRARY_PATH="$root/$(opt libdir)" "$bin" --version
grep -q '^\.TH STAN-SERVER 1' "$man" || { echo "$man is not the stan-server man page"; exit 1; }
if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww -z "$man" 2>&1 | { ! grep . ; } || { echo "groff warns about $man"; exit 1; }
fi
echo "stan-server install test passed"
