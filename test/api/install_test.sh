#!/bin/bash
# Install the build into a scratch prefix, then build and run a program
# against it with nothing but pkg-config, as a user of the package would.
#   usage: install_test.sh BUILD_DIR SOURCE_FILE
set -euo pipefail
build=$1 src=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
root="$dest$prefix"
pcdir="$root/$libdir/pkgconfig"
test -f "$pcdir/streamlog.pc" || { echo "streamlog.pc not installed in $pcdir"; exit 1; }
test -f "$root/include/streamlog.h" || { echo "streamlog.h not installed"; exit 1; }
# the .pc names the real prefix; point pkg-config at the scratch copy
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$dest"
flags=$(pkg-config --cflags --libs streamlog)
echo "pkg-config --cflags --libs streamlog: $flags"
cc -std=c99 -Wall -Werror -o "$dest/consumer" "$src" $flags
LD_LIBRARY_PATH="$root/$libdir" "$dest/consumer" "$dest/store"
# the soname comes from the version
objdump -p "$root/$libdir/libstreamlog.so" | grep -q 'SONAME *libstreamlog.so.0' || { echo "unexpected soname"; exit 1; }
# only the API is exported
bad=$(nm -D --defined-only "$root/$libdir/libstreamlog.so" | awk '{print $3}' | grep -v '^streamlog_' | grep -v '^STREAMLOG_' || true)
[ -z "$bad" ] || { echo "symbols exported outside the API: $bad"; exit 1; }
echo "install test passed"
