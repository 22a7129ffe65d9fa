#!/usr/bin/env bash
# Runs many simulation seeds in parallel, resumable: every finished seed is recorded in a
# state file, and a second run goes on where the first stopped.
#   tests/sim/run.sh --seeds N [--from S] [--jobs J] [--chunk C] [--state FILE] [--tmp DIR] [--shrink] [-- extra filesync_sim options]
# Prints each failing seed (its log is kept in <state>.d/SEED.log), a summary and the
# throughput of the run.
set -euo pipefail
# All of it in one function, read whole before it runs: editing or checking out this file
# during a long run does not change the run.
main() {
    here=$(cd "$(dirname "$0")" && pwd)
    bin=${FILESYNC_SIM:-$here/../../build/tests/sim/filesync_sim}
    # A seed mostly waits (slices, quiescent points): more processes than cores keep the
    # cores busy. A process runs a chunk of seeds, so that its start is paid once.
    seeds=100 from=1 jobs=8 chunk=10 state=${TMPDIR:-/tmp}/filesync_sim.state shrink=()
    extra=()
    while [ $# -gt 0 ]; do
        case $1 in
            --seeds) seeds=$2; shift 2 ;;
            --from) from=$2; shift 2 ;;
            --jobs) jobs=$2; shift 2 ;;
            --chunk) chunk=$2; shift 2 ;;
            --state) state=$2; shift 2 ;;
            --tmp) export TMPDIR=$2; shift 2 ;; # where the server's and computers' folders go
            --shrink) shrink=(--shrink --shrink-seconds 240); shift ;;
            --) shift; extra=("$@"); break ;;
            *) echo "unknown option $1" >&2; exit 2 ;;
        esac
    done
    [ -x "$bin" ] || { echo "no $bin: build the filesync_sim target first" >&2; exit 2; }
    mkdir -p "${TMPDIR:-/tmp}"
    logs=$state.d
    mkdir -p "$logs"
    touch "$state"
    # A private copy of the binary: a rebuild during a long run must not change it midway.
    cp "$bin" "$state.bin"
    bin=$state.bin

    # Runs the seeds given, in one process; each seed's line is appended to the state file
    # as soon as it finished ("SEED ok|FAIL:invariant SECONDS", short atomic appends).
    run_chunk() {
        local out=$logs/chunk.$BASHPID
        local -a left=("$@")
        while [ ${#left[@]} -gt 0 ]; do
            local list
            list=$(IFS=,; echo "${left[*]}")
            QT_QPA_PLATFORM=offscreen "$bin" --seed-list "$list" "${shrink[@]}" "${extra[@]}" 2>&1 \
                | awk -v state="$state" -v logs="$logs" -v list="$list" -v out="$out" '
                    # A failing seed is what was printed since the last seed ended.
                    /^ok seed [0-9]+ / {
                        t = match($0, / [0-9.]+ s \(/) ? substr($0, RSTART + 1, RLENGTH - 5) : 0
                        printf "%s ok %s\n", $3, t >> state; fflush(state)
                        print $3 >> out; fflush(out)
                        block = ""; next
                    }
                    /^failed seed [0-9]+: / {
                        seed = $3; sub(/:$/, "", seed)
                        t = match($0, /\([0-9.]+ s\)$/) ? substr($0, RSTART + 1, RLENGTH - 4) : 0
                        inv = match(block, /invariant [a-z-]+/) ? substr(block, RSTART + 10, RLENGTH - 10) : "crash"
                        f = logs "/" seed ".log"
                        printf "%s%s\n", block, $0 > f; close(f)
                        printf "%s FAIL:%s %s\n", seed, inv, t >> state; fflush(state)
                        print seed >> out; fflush(out)
                        printf "seed %s: FAIL:%s (log: %s)\n", seed, inv, f; fflush()
                        block = ""; next
                    }
                    / scenario\(s\) failed in / { next }
                    { block = block $0 "\n" }
                    END {
                        # A crash: the first seed without a line is the one that was running.
                        close(out)
                        n = split(list, all, ",")
                        while ((getline seed < out) > 0)
                            done[seed] = 1
                        for (i = 1; i <= n; ++i) {
                            if (all[i] in done)
                                continue
                            f = logs "/" all[i] ".log"
                            printf "%s(the process ended here)\n", block > f; close(f)
                            printf "%s FAIL:crash 0\n", all[i] >> state; fflush(state)
                            print all[i] >> out; fflush(out)
                            printf "seed %s: FAIL:crash (log: %s)\n", all[i], f
                            break
                        }
                    }' || true
            # Whatever followed a crash runs again.
            local -a rest=()
            local seed
            for seed in "${left[@]}"; do
                grep -qx "$seed" "$out" 2>/dev/null || rest+=("$seed")
            done
            left=("${rest[@]}")
        done
        rm -f "$out"
    }
    export -f run_chunk
    export bin logs state
    export shrink_s="${shrink[*]}" extra_s="${extra[*]}"

    mapfile -t todo < <(seq "$from" $((from + seeds - 1)) | awk 'FILENAME == ARGV[1] { done[$1] = 1; next } !($1 in done)' "$state" -)
    echo "${#todo[@]} seed(s) to run, $jobs processes at a time, $chunk seeds each; state in $state"
    started=$(date +%s.%N)
    # xargs runs the processes; a function sees the options through the exported strings.
    if [ ${#todo[@]} -gt 0 ]; then
        printf '%s\n' "${todo[@]}" | xargs -r -P "$jobs" -n "$chunk" bash -c \
            'shrink=($shrink_s); extra=($extra_s); run_chunk "$@"' _
    fi

    elapsed=$(echo "$(date +%s.%N) - $started" | bc)
    if [ "${#todo[@]}" -gt 0 ]; then
        # Of this run only (not the seeds an earlier run recorded), on the whole machine.
        printf 'throughput: %d seed(s) in %.0f s with %d jobs: %.0f seeds/hour\n' "${#todo[@]}" "$elapsed" "$jobs" \
            "$(echo "${#todo[@]} * 3600 / $elapsed" | bc -l)"
    fi
    total=$(wc -l <"$state")
    fails=$(grep -c ' FAIL' "$state" || true)
    avg=$(awk '{ s += $3 } END { if (NR) printf "%.2f", s / NR }' "$state")
    echo "done: $total seed(s) recorded, $fails failing, ${avg} s per seed on average (one process's view)"
    grep ' FAIL' "$state" | sort -n | awk '{ print "  failing seed " $1 " " $2 }' || true
}
main "$@"
exit
