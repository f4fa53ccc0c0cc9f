#!/bin/bash
# The full test suite, as a new user or CI runs it (as root on Debian 12):
# installs what the tests need, builds and runs every test with `meson test`
# plainly and with AddressSanitizer + UndefinedBehaviorSanitizer, runs the
# library's suites under valgrind and ThreadSanitizer, and fuzzes stan-server's
# protobuf request handlers briefly.
#   usage: test/run.sh            (from the project root)
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
# clang needs libclang-rt-14-dev for its sanitizers and libFuzzer
packages=(gcc g++ clang libclang-rt-14-dev pkg-config meson ninja-build liblmdb-dev check libsqlite3-dev
          valgrind libuv1-dev libprotobuf-c-dev protobuf-c-compiler nats-server zlib1g-dev
          libnats-dev libmicrohttpd-dev libjansson-dev python3-pytest python3-pip python3-venv python3-setuptools python3 bindgen golang-go)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Node.js for the stan-server integration tests with real NATS clients.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ -f examples/stan-server/test/package.json ]; then
    (cd examples/stan-server/test && npm ci --no-audit --no-fund --loglevel=error)
fi

run_suite() {   # build dir, then meson setup options
    local dir=$1; shift
    if [ ! -d "$dir" ]; then
        meson setup "$dir" "$@"
    fi
    ninja -C "$dir"
    meson test -C "$dir" -v --print-errorlogs --num-processes 2
}

# gcc for the plain and ASan+UBSan builds, clang for TSan and libFuzzer
export CC=gcc CXX=g++

echo "=== plain build ==="
run_suite build-test

echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build ==="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=disabled

echo "=== valgrind (memcheck) on the library's suites ==="
# fewer crash-test kills and a smaller stress run: everything is ~50x slower
STREAMLOG_CRASH_ITERATIONS=10 STREAMLOG_STRESS_MSGS=20000 \
    meson test -C build-test --setup valgrind --suite core --suite subs -v --print-errorlogs --num-processes 2

echo "=== ThreadSanitizer (clang) on the library's suites ==="
if [ ! -d build-tsan ]; then
    CC=clang CXX=clang++ meson setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbench=disabled -Dstan_server=disabled
fi
ninja -C build-tsan
TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --suite core --suite subs -v --print-errorlogs --num-processes 2

echo "=== libFuzzer on stan-server's protobuf request handlers (clang) ==="
if [ ! -d build-fuzz ]; then
    CC=clang CXX=clang++ meson setup build-fuzz -Dbench=disabled
fi
ninja -C build-fuzz examples/stan-server/fuzz-stan-requests
meson test -C build-fuzz --no-rebuild -v stan-requests-fuzz
