#!/bin/bash
# `meson install` puts the bridge in place as an application uses it: install into a scratch
# directory, then build test/jsb_inprocess.c against the installed streamlog-jetstream.h with
# the installed pkg-config file alone, compile the header as C99 -pedantic and as C++, check
# the library exports only streamlog_jetstream_*, and run the installed program's --help.
#   usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet
opt() { meson introspect "$build" --buildoptions |
        python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name']=='$1'][0])"; }
prefix=$(opt prefix)
libdir="$dest$prefix/$(opt libdir)"
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs streamlog-jetstream)
test -f "$dest$prefix/include/streamlog-jetstream.h" || { echo "header not installed"; exit 1; }
# a sanitized build installs a sanitized library: the program links with the same runtime
san=$(opt b_sanitize)
[ "$san" = none ] && san="" || san="-fsanitize=$san"
cc -std=gnu11 -Wall -Werror $san -o "$dest/inproc" "$src/test/jsb_inprocess.c" $flags -lpthread
echo '#include <streamlog-jetstream.h>' > "$dest/h.c"
cc -std=c99 -pedantic -Wall -Werror -c -o "$dest/h.o" "$dest/h.c" $(pkg-config --cflags streamlog-jetstream)
if command -v c++ >/dev/null; then
    cp "$dest/h.c" "$dest/h.cc"
    c++ -Wall -Werror -c -o "$dest/hpp.o" "$dest/h.cc" $(pkg-config --cflags streamlog-jetstream)
fi
other=$(nm -D --defined-only "$libdir/libstreamlog-jetstream.so" | awk '$2 == "T" && $3 !~ /^streamlog_jetstream_/')
[ -z "$other" ] || { echo "the library exports more than its API: $other"; exit 1; }
LD_LIBRARY_PATH="$libdir" "$dest$prefix/$(opt bindir)/streamlog-jetstream" --help | grep -q "streamlog-jetstream out STORE"
echo "jetstream-bridge install test passed"
