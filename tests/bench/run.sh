#!/usr/bin/env bash
# One command for the whole benchmark: installs the peers (rsync, syncthing) from
# Debian when missing, builds FileSync in Release, runs every workload on FileSync,
# rsync and Syncthing in the same run, prints the table and writes docs/benchmarks.md.
#   tests/bench/run.sh [--quick] [--runs N] [--workloads W1,W2,...] [--peers FileSync,rsync,Syncthing]
# FILESYNC_BIN_DIR=path/to/build skips the build. Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/install-deps.sh --bench
bindir=${FILESYNC_BIN_DIR:-}
if [ -z "$bindir" ]; then
    bindir=build-bench
    cmake -S . -B "$bindir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFILESYNC_BUILD_GUI=OFF -DFILESYNC_BUILD_TESTS=OFF >/dev/null
    cmake --build "$bindir" -j2 --target filesync-server filesync
fi
out=docs/benchmarks.md
for arg in "$@"; do [ "$arg" = "--quick" ] && out=docs/benchmarks-quick.md; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 tests/bench/bench.py --bindir "$bindir" --out "$out" "$@"
