#!/bin/sh
# Runs a node test file with the node test runner, or exits 77 (meson: skipped)
# saying what is missing: the npm packages or nats-server.
dir=$(dirname "$0")
if [ ! -d "$dir/node_modules" ]; then
    echo "skipped: the npm packages are missing; run 'npm ci --prefix examples/stan-server/test' (test/run.sh does)" >&2
    exit 77
fi
if ! command -v nats-server >/dev/null 2>&1; then
    echo "skipped: nats-server is missing; apt-get install nats-server (test/run.sh does)" >&2
    exit 77
fi
exec node --test --test-concurrency=1 "$@"
