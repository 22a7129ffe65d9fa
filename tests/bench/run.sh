#!/usr/bin/env bash
# FileSync beside rsync and Syncthing, in one command (see tests/bench/README.md):
#   tests/bench/run.sh [--quick] [--runs N] [--workloads W1,W2,W3,W3b,W4,W5,W6]
#                      [--peers FileSync,rsync,Syncthing] [--out FILE] [--rev GIT-REV]
# Installs the peers (rsync, syncthing) from Debian when missing, builds FileSync in
# Release into build-bench/ unless FILESYNC_BIN_DIR names a build that has
# server/filesync-server and desktop/filesync (--rev builds that commit from a clean
# export instead of the working tree, for figures that others can reproduce), then runs every workload on every system
# on 127.0.0.1 and writes docs/benchmarks.md (with --quick: tests/bench/results/quick.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for p in rsync syncthing python3 procps util-linux; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update
    as_root apt-get install -y --no-install-recommends "${missing[@]}"
fi

rev=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rev) rev=$2; shift 2 ;;
        --rev=*) rev=${1#--rev=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

bindir=${FILESYNC_BIN_DIR:-}
if [ -n "$rev" ] && [ -z "$bindir" ]; then
    sha=$(git rev-parse --short=10 "$rev^{commit}")
    src=$repo/build-bench/src-$sha
    bindir=$repo/build-bench/rev-$sha
    if [ ! -f "$src/CMakeLists.txt" ]; then
        mkdir -p "$src"
        git archive "$sha" | tar -x -C "$src"
    fi
    [ -x tools/install-deps.sh ] && tools/install-deps.sh
    cmake -S "$src" -B "$bindir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFILESYNC_BUILD_GUI=OFF \
        -DFILESYNC_BUILD_TESTS=OFF >/dev/null
    cmake --build "$bindir" -j2 --target filesync-server filesync
    export FILESYNC_SOURCE="git $sha (clean export, Release)"
elif [ -z "$bindir" ]; then
    bindir=$repo/build-bench
    if [ -x tools/install-deps.sh ]; then
        tools/install-deps.sh          # the build's own Debian packages (skips what is there)
    fi
    command -v ninja >/dev/null || as_root apt-get install -y --no-install-recommends ninja-build
    cmake -S "$repo" -B "$bindir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFILESYNC_BUILD_GUI=OFF \
        -DFILESYNC_BUILD_TESTS=OFF >/dev/null
    cmake --build "$bindir" -j2 --target filesync-server filesync
fi
bindir=$(cd "$bindir" && pwd)
for b in server/filesync-server desktop/filesync; do
    [ -x "$bindir/$b" ] || { echo "bench: $bindir/$b is missing (FILESYNC_BIN_DIR?)" >&2; exit 1; }
done

# 1,000 load sessions plus the server's own descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null || true
exec python3 "$repo/tests/bench/bench.py" --bindir "$bindir" ${args[@]+"${args[@]}"}
