#!/bin/bash
# speculate.sh: workers of different speeds. The pricing example, 20 sync
# periods, one standalone coordinator and two workers, one of which waits
# DELAY ms before every task (COHORT_TEST_TASK_DELAY_MS); wall_seconds of the
# run (summary.json) with runtime.speculate false and true, and with two
# equal workers, RUNS times each, interleaved; prints the medians.
# usage: bench/qlearning/speculate.sh [BUILD_DIR]   (from the repo root)
set -u
B=${1:-build}/cohort
RUNS=${RUNS:-5}
DELAY=${DELAY:-500}
OUT=bench/out/qlearning/speculate
mkdir -p "$OUT"
one() { # one SPEC DELAY: prints the run's wall_seconds
    local d
    d=$(mktemp -d "$OUT/r.XXXX")
    "$B" coordinator examples/pricing-q.yaml --bind tcp://127.0.0.1:0 --workers 2 --out "$d/run" \
        --set model.rounds=20 --set runtime.speculate="$1" --set runtime.tracking=false >/dev/null 2>&1 &
    local c=$!
    while [ ! -s "$d/run/endpoints.json" ]; do sleep 0.05; done
    local ep
    ep=$(grep -o '"tasks": "[^"]*' "$d/run/endpoints.json" | sed 's/.*"//')
    COHORT_TEST_TASK_DELAY_MS=$2 "$B" worker --connect "$ep" 2>/dev/null &
    "$B" worker --connect "$ep" 2>/dev/null &
    wait $c
    wait
    grep -o '"wall_seconds": [0-9.]*' "$d/run/summary.json" | sed 's/.*: //'
    rm -rf "$d"
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
: >"$OUT/off" && : >"$OUT/on" && : >"$OUT/equal"
for _ in $(seq "$RUNS"); do
    one false "$DELAY" >>"$OUT/off"
    one true "$DELAY" >>"$OUT/on"
    one false 0 >>"$OUT/equal"
done
off=$(median <"$OUT/off"); on=$(median <"$OUT/on"); eq=$(median <"$OUT/equal")
echo "| one worker ${DELAY} ms late per task, speculate false | $off s |"
echo "| one worker ${DELAY} ms late per task, speculate true | $on s |"
echo "| two equal workers | $eq s |"
awk -v a="$on" -v b="$off" -v c="$eq" 'BEGIN { printf "ratio on/off %.3f, on/equal %.2f\n", a / b, a / c }'
