#!/bin/sh
# Build test/abi/go (cgo) against this build's library and run it; exit 77
# (skip) without Go. usage: errmsg_goroutines.sh SRC_DIR INCLUDE_DIR BUILD_INCLUDE_DIR LIB_DIR
set -eu
src=$1 inc=$2 binc=$3 libdir=$4
if ! command -v go >/dev/null 2>&1; then
    echo "skipped: Go is missing (Debian: apt-get install golang-go)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/main.go" "$work/"
cd "$work"
# offline: a module without dependencies, the cache inside the scratch directory
printf 'module errmsggoroutines\n\ngo 1.19\n' > go.mod
export GOCACHE="$work/cache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=1
export CGO_CFLAGS="-I$inc -I$binc" CGO_LDFLAGS="-L$libdir -lstreamlog -Wl,-rpath,$libdir"
go build -o errmsg_goroutines .
./errmsg_goroutines "$work/store"
