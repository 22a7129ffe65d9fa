#!/usr/bin/env bash
# Builds FileSync with sanitizers and runs tests under them, two jobs (two cores):
#   tools/sanitize.sh asan [ctest args]  AddressSanitizer + UBSan (build-asan/): the whole suite
#   tools/sanitize.sh tsan [ctest args]  ThreadSanitizer (build-tsan/): engine, integration, process
# A finding fails its test. Set CMAKE_CXX_COMPILER_LAUNCHER=ccache to reuse objects.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
[ $# -gt 0 ] && shift
tools=$PWD/tools
case "$mode" in
asan)
    dir=build-asan
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFILESYNC_SANITIZE=address,undefined
    export ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1
    export LSAN_OPTIONS=suppressions=$tools/lsan.supp:print_suppressions=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    labels=()
    ;;
tsan)
    dir=build-tsan
    # The tray is not among the tests run here: no need to build it.
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFILESYNC_SANITIZE=thread \
        -DFILESYNC_BUILD_GUI=OFF
    export TSAN_OPTIONS="suppressions=$tools/tsan.supp:second_deadlock_stack=1:history_size=4"
    labels=(-L 'engine|integration|process')
    ;;
*)
    echo "usage: $0 asan|tsan [ctest args]" >&2
    exit 2
    ;;
esac
cmake --build "$dir" -j2
# Instrumented code runs several times slower: the tests' own limits are raised in the build.
ctest --test-dir "$dir" -j2 --output-on-failure "${labels[@]}" "$@"
