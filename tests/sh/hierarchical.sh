# hierarchical.sh: the distance matrix computed in bands on the workers
# (model.distances: workers, OP_PDIST rounds) gives the model of the
# coordinator's own matrix: linkage.csv and assignments.csv the same bytes,
# summary.json the same but for the round count, model.pb the same bytes up
# to the config it ends with (which records model.distances) and the same
# bytes for 1 and 3 workers (and under mpirun); also over several rounds (messages bounded by
# runtime.max_message_mb), after a worker is killed mid-round, and after the
# coordinator is killed and the run resumed; a bad model.distances is an
# error that lists the choices. (kmeans.sh tests the rest of hierarchical.)
. "$(dirname "$0")/lib.sh"
export COHORT_DB="$T/cohort.db"

# stable SUMMARY: summary.json without what may differ between these runs
stable() { grep -v -e '"run_id"' -e '"workers"' -e '"wall_seconds"' -e '"rounds"' "$1"; }
# model_part FILE: model.pb up to the config yaml it ends with (field 5:
# a tag byte and a two-byte length before the text "name: ...")
model_part() {
    local off
    off=$(grep -obUaF "name: $2" "$1" | tail -n 1 | cut -d: -f1)
    [ -n "$off" ] && head -c $((off - 3)) "$1"
}
run() { # run NAME WORKERS CONFIG [--set ...]
    local name=$1 w=$2 cfg=$3
    shift 3
    if ! timeout 120 "$COHORT" run "$cfg" --workers "$w" --out "$T/$name" "$@" >"$T/$name.log" 2>&1; then
        bad "$name: run failed"; tail -n 5 "$T/$name.log"
    fi
}
same() { # same DESCRIPTION REF RUN NAME: every output but the config's distances line
    local d=$1 a=$T/$2 b=$T/$3 name=$4
    if cmp -s "$a/linkage.csv" "$b/linkage.csv" && cmp -s "$a/assignments.csv" "$b/assignments.csv" &&
        cmp -s <(stable "$a/summary.json") <(stable "$b/summary.json") &&
        model_part "$a/model.pb" "$name" >"$T/ma" && model_part "$b/model.pb" "$name" >"$T/mb" &&
        [ -s "$T/ma" ] && cmp -s "$T/ma" "$T/mb"; then
        ok "$d"
    else
        bad "$d"; diff <(stable "$a/summary.json") <(stable "$b/summary.json") | head -5
    fi
}

# wine (178 rows), ward: one OP_PDIST round of one band per worker
run wine-coord 1 examples/hierarchical.yaml --set model.distances=coordinator
run wine-w1 1 examples/hierarchical.yaml --set model.distances=workers
run wine-w3 3 examples/hierarchical.yaml --set model.distances=workers
same "wine ward: distances on 1 worker give the coordinator's model" wine-coord wine-w1 wine-hierarchical
same "wine ward: distances on 3 workers give the coordinator's model" wine-coord wine-w3 wine-hierarchical
check "wine: model.pb the same bytes for 1 and 3 workers computing distances" \
    cmp -s "$T/wine-w1/model.pb" "$T/wine-w3/model.pb"
check "wine: the 3-worker run took a gather and a distance round" \
    eval 'grep -q "\"rounds\": 2" "$T/wine-w3/summary.json" &&
          grep -q "distance_pairs" "$T/wine-w3/events.jsonl"'
check "wine: model.distances auto computes 178 rows on the coordinator" \
    eval 'run wine-auto 3 examples/hierarchical.yaml && grep -q "\"rounds\": 1" "$T/wine-auto/summary.json"'
check "the model.pb configs differ only in model.distances" \
    eval 'diff <(strings "$T/wine-coord/model.pb" | grep -v "distances:") <(strings "$T/wine-w1/model.pb" | grep -v "distances:") >/dev/null'

# under mpirun (-np 4: the coordinator and 3 workers)
timeout 180 mpirun --oversubscribe -np 4 "$COHORT" run examples/hierarchical.yaml --out "$T/wine-mpi" \
    --set model.distances=workers >/dev/null 2>"$T/wine-mpi.err"
check "wine: mpirun -np 4 with distances on the workers gives model.pb of 3 local workers" \
    cmp -s "$T/wine-w3/model.pb" "$T/wine-mpi/model.pb"

# digits (1797 x 64), average linkage, messages of at most 1 MB: 12.9 MB of
# distances in 15 bands over 5 rounds of 3 workers
dig="--set data.train=$SRC/data/digits.csv --set model.linkage=average --set model.n_clusters=10 --set runtime.max_message_mb=1"
run dig-coord 2 examples/hierarchical.yaml $dig --set model.distances=coordinator
run dig-w3 3 examples/hierarchical.yaml $dig --set model.distances=workers
same "digits average: distances on 3 workers over several rounds give the coordinator's model" \
    dig-coord dig-w3 wine-hierarchical
check "digits: 5 distance rounds after the gather" grep -q '"rounds": 6' "$T/dig-w3/summary.json"

# a worker killed in a distance round: its band goes to a survivor
COHORT_TEST_TASK_DELAY_MS=300 timeout 120 "$COHORT" run examples/hierarchical.yaml --workers 3 \
    $dig --set model.distances=workers --set runtime.heartbeat_timeout=2 --out "$T/dig-kill" \
    >/dev/null 2>"$T/dig-kill.err" &
cpid=$!
sleep 1.2
victim=$(child "$(child $cpid)")
[ -n "$victim" ] && kill -9 "$victim"
wait $cpid
check "digits: a worker killed during the distance rounds, its shard reassigned" \
    grep -q '"topic": "worker.reassigned"' "$T/dig-kill/events.jsonl"
same "digits: the model after the kill is the coordinator's" dig-coord dig-kill wine-hierarchical

# the coordinator killed in a distance round; the resumed run gathers again
COHORT_TEST_TASK_DELAY_MS=400 timeout 120 "$COHORT" run examples/hierarchical.yaml --workers 3 \
    $dig --set model.distances=workers --out "$T/dig-res" >/dev/null 2>&1 &
tpid=$!
wait_rounds "$T/dig-res" 3
kill -9 "$(child $tpid)"
wait $tpid 2>/dev/null
check "digits: the coordinator killed after 3 rounds left a checkpoint" \
    eval '[ -s "$T/dig-res/checkpoints/latest.pb" ] && ! grep -q "\"status\": \"finished\"" "$T/dig-res/summary.json" 2>/dev/null'
timeout 120 "$COHORT" run --resume "$T/dig-res" >/dev/null 2>"$T/dig-res.err"
check "digits: the resumed run finishes" grep -q '"status": "finished"' "$T/dig-res/summary.json"
check "digits: it resumed after a distance round" grep -q "resuming .* after round [2-9]" "$T/dig-res.err"
check "digits: the resumed run's linkage and cut are the coordinator's" \
    eval 'cmp -s "$T/dig-coord/linkage.csv" "$T/dig-res/linkage.csv" &&
          cmp -s "$T/dig-coord/assignments.csv" "$T/dig-res/assignments.csv"'

# bad input
timeout 60 "$COHORT" run examples/hierarchical.yaml --workers 1 --set model.distances=gpu \
    >"$T/bad.out" 2>"$T/bad.err"
rc=$?
check "a misspelt model.distances is an error that lists the choices (exit $rc)" \
    eval '{ [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && grep -qF "model.distances: expected one of coordinator, workers, auto; got '"'gpu'"'" "$T/bad.err"'
check "no local worker left behind" no_orphan_workers
finish
