#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite (unit, integration,
# process-level and GUI tests). Benchmarks are separate: tests/bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
ctest --test-dir build --output-on-failure --timeout 900 "$@"
