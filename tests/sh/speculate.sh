# speculate.sh: runtime.speculate with workers of different speeds: one
# standalone worker waits 1.5 s before every task, the other does not; the
# idle fast worker also runs the slow one's shard, the first copy to arrive
# is taken, and the model is the same bytes as a run of two equal workers.
. "$(dirname "$0")/lib.sh"

# uneven NAME CONFIG [--set ...]: a run with one slow and one fast worker
uneven() {
    local name=$1 cfg=$2
    shift 2
    local d="$T/$name"
    timeout 120 "$COHORT" run "$cfg" --workers 2 --out "$d-ref" "$@" >/dev/null 2>&1
    timeout 120 "$COHORT" coordinator "$cfg" --bind tcp://127.0.0.1:0 --workers 2 --out "$d" \
        --set runtime.speculate=true "$@" >/dev/null 2>"$d.err" &
    local cpid=$!
    if wait_for "$d/endpoints.json" 20; then
        local ep
        ep=$(endpoint "$d")
        COHORT_TEST_TASK_DELAY_MS=1500 timeout 120 "$COHORT" worker --connect "$ep" 2>/dev/null &
        timeout 120 "$COHORT" worker --connect "$ep" 2>/dev/null &
    fi
    wait $cpid
    wait
    check "$name: the run with a slow worker finishes" grep -q '"status": "finished"' "$d/summary.json"
    local n
    n=$(grep -o '"speculative": [0-9]*' "$d/events.jsonl" | awk '{ s += $2 } END { print s + 0 }')
    check "$name: the fast worker ran backup copies of the slow one's shards ($n)" [ "$n" -ge 1 ]
    check "$name: the model is the same bytes as with two equal workers" \
        cmp -s "$d-ref/model.pb" "$d/model.pb"
}

uneven qlearning examples/pricing-q.yaml --set model.rounds=6
uneven gbt examples/churn-gbt.yaml --set model.rounds=3
uneven random_forest examples/churn-rf.yaml --set model.n_trees=20
check "no local worker left behind" no_orphan_workers
finish
