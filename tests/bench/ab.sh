#!/usr/bin/env bash
# Two builds of FileSync side by side on one workload, alternating, one fresh pair a run:
#   tests/bench/ab.sh N WORKLOAD BINDIR_A BINDIR_B      (e.g. 5 W2 build-old build-new)
# Each BINDIR holds server/filesync-server and desktop/filesync. Runs are PAUSE seconds
# apart (default 35): on this machine's ext4 (no journal) files created within 30 s
# (vm.dirty_expire_centisecs) of many deletions, here the last run's clean-up, make every
# inode allocation check the recently freed ones, which slowed W2 from 2.5 s to 4-30 s.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 N WORKLOAD BINDIR_A BINDIR_B" >&2; exit 2; }
n=$1; w=$2; a=$(cd "$3" && pwd); b=$(cd "$4" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$n"); do
    for d in "$a" "$b"; do
        sleep "${PAUSE:-35}"
        line=$(FILESYNC_BIN_DIR=$d "$repo/tests/bench/run.sh" --runs 1 --workloads "$w" --peers FileSync \
            --out "$out/report.md" 2>&1 | grep -E "FileSync +$w " || echo "failed")
        echo "$i $d: $line"
    done
done
