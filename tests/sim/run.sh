#!/usr/bin/env bash
# Runs many simulation seeds in parallel, resumable: every finished seed is recorded in a
# state file, and a second run goes on where the first stopped.
#   tests/sim/run.sh --seeds N [--from S] [--jobs J] [--state FILE] [--shrink] [-- extra filesync_sim options]
# Prints each failing seed (its log is kept in <state>.d/SEED.log) and a summary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${FILESYNC_SIM:-$here/../../build/tests/sim/filesync_sim}
seeds=100 from=1 jobs=2 state=${TMPDIR:-/tmp}/filesync_sim.state shrink=()
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --seeds) seeds=$2; shift 2 ;;
        --from) from=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --state) state=$2; shift 2 ;;
        --shrink) shrink=(--shrink --shrink-seconds 240); shift ;;
        --) shift; extra=("$@"); break ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "no $bin: build the filesync_sim target first" >&2; exit 2; }
logs=$state.d
mkdir -p "$logs"
touch "$state"
# A private copy of the binary: a rebuild during a long run must not change it midway.
cp "$bin" "$state.bin"
bin=$state.bin

run_one() {
    local seed=$1 log=$logs/$1.log
    local start end result
    start=$(date +%s.%N)
    if QT_QPA_PLATFORM=offscreen "$bin" --seed "$seed" "${shrink[@]}" "${extra[@]}" >"$log" 2>&1; then
        result=ok
    else
        result=$(grep -m1 -o 'invariant [a-z-]*' "$log" | cut -d' ' -f2 || true)
        result=FAIL:${result:-crash}
    fi
    end=$(date +%s.%N)
    [ "$result" = ok ] && rm -f "$log"
    # One line per seed, appended atomically (short writes to an O_APPEND file).
    printf '%s %s %.2f\n' "$seed" "$result" "$(echo "$end - $start" | bc)" >>"$state"
    [ "$result" = ok ] || echo "seed $seed: $result (log: $log)"
}
export -f run_one
export bin logs state
export shrink_s="${shrink[*]}" extra_s="${extra[*]}"

mapfile -t todo < <(seq "$from" $((from + seeds - 1)) | awk 'FILENAME == ARGV[1] { done[$1] = 1; next } !($1 in done)' "$state" -)
echo "${#todo[@]} seed(s) to run, $jobs at a time; state in $state"
started=$(date +%s.%N)
# xargs runs the jobs; a function sees the options through the exported strings.
printf '%s\n' "${todo[@]}" | xargs -r -P "$jobs" -I{} bash -c \
    'shrink=($shrink_s); extra=($extra_s); run_one "$@"' _ {}

elapsed=$(echo "$(date +%s.%N) - $started" | bc)
if [ "${#todo[@]}" -gt 0 ]; then
    # Of this run only (not the seeds an earlier run recorded), on the whole machine.
    printf 'throughput: %d seed(s) in %.0f s with %d jobs: %.0f seeds/hour\n' "${#todo[@]}" "$elapsed" "$jobs" \
        "$(echo "${#todo[@]} * 3600 / $elapsed" | bc -l)"
fi
total=$(wc -l <"$state")
fails=$(grep -c ' FAIL' "$state" || true)
avg=$(awk '{ s += $3 } END { if (NR) printf "%.2f", s / NR }' "$state")
echo "done: $total seed(s) recorded, $fails failing, ${avg} s per seed on average"
grep ' FAIL' "$state" | sort -n | awk '{ print "  failing seed " $1 " " $2 }' || true
