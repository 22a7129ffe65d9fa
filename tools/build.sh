#!/usr/bin/env bash
# Configures and builds FileSync into ./build (Release with debug info). Two jobs: the
# machines this is made for have two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build build -j2
