#!/bin/bash
# run.sh: qlearning benchmarks (issue 9), medians of 3 runs each:
#  1. environment steps per second per worker (one core): cohort's rollouts
#     (epsilon 0.1, alpha 0.1 constant, one group, --workers 1; the round
#     metric steps_per_second_per_worker) against numpy_peer.py's batched and
#     per-step NumPy Q-learning on the same environment, FrozenLake 4x4 and the
#     default pricing market;
#  2. wall time to a target return (seconds_to_target: from the coordinator's
#     start to the first sync period whose greedy policy reaches the target)
#     with 1, 2 and 4 workers on the pricing market.
# Usage: bench/qlearning/run.sh [BUILD_DIR]   (from the repo root)
set -eu
B=${1:-build}
C=$B/cohort
T=$(mktemp -d /tmp/ql-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
med() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rate() { # steps/s per worker of a run: the best sync period (the least disturbed by
    # other processes on a shared machine; the median is printed to stderr)
    grep -o '"steps_per_second_per_worker": [0-9.e+]*' "$1/events.jsonl" | sed 's/.*: //' >"$T/x"
    echo "  $(basename "$1") median period $(med <"$T/x")" >&2
    sort -g "$T/x" | tail -n 1
}
for env in frozenlake pricing; do
    cfg=examples/pricing-q.yaml
    [ $env = frozenlake ] && cfg=examples/frozenlake-q.yaml
    for i in 1 2 3; do
        rm -rf "$T/r"
        $C run $cfg --workers 1 --out "$T/r" --set model.groups=1 --set model.sync_every=50000 \
            --set model.rounds=8 --set model.epsilon_schedule=constant --set model.epsilon_start=0.1 \
            --set model.lr_schedule=constant --set model.alpha=0.1 --set model.eval_episodes=0 \
            >/dev/null 2>&1
        rate "$T/r"
    done | med >"$T/c"
    for i in 1 2 3; do /usr/bin/python3 bench/qlearning/numpy_peer.py $env 3; done >"$T/p"
    cb=$(cat "$T/c")
    pb=$(grep batch "$T/p" | awk '{ print $2 }' | med)
    pl=$(grep loop "$T/p" | awk '{ print $2 }' | med)
    awk -v e=$env -v c="$cb" -v b="$pb" -v l="$pl" 'BEGIN {
        printf "%-10s cohort %.3g steps/s/worker, numpy batched %.3g (x%.1f), numpy loop %.3g (x%.0f)\n",
            e, c, b, c / b, l, c / l }'
done
for w in 1 2 4; do
    for i in 1 2 3; do
        rm -rf "$T/t$w"
        $C run examples/pricing-q.yaml --workers $w --out "$T/t$w" --set model.stop_at_target=true \
            --set model.target_fraction=0.99 --set model.sync_every=2500 --set model.rounds=100 \
            --set model.epsilon_steps=500000 --set model.eval_episodes=0 >/dev/null 2>&1
        grep -o '"seconds_to_target": [0-9.e+-]*' "$T/t$w/summary.json" | sed 's/.*: //'
    done | med >"$T/w$w"
    echo "pricing to 99% of the optimum, $w worker(s): $(cat "$T/w$w") s (rounds_to_target" \
        "$(grep -o '"rounds_to_target": [0-9-]*' "$T/t$w/summary.json" | sed 's/.*: //'))"
done
awk -v a="$(cat "$T/w1")" -v b="$(cat "$T/w2")" -v c="$(cat "$T/w4")" \
    'BEGIN { printf "time to target: 2 workers / 1 = %.2f, 4 workers / 1 = %.2f\n", b / a, c / a }'
