# faults.sh: a worker killed with SIGKILL mid-round has its shard reassigned
# and the model is still exact; a lost silo stops the run with a clear message;
# a killed coordinator's workers exit by themselves; nothing is left behind.
. "$(dirname "$0")/lib.sh"
exp=examples/ols.yaml
set0="--set data.test_fraction=0 --set runtime.heartbeat_timeout=2 --set runtime.coordinator_timeout=3"

timeout 60 "$COHORT" run $exp --workers 1 --set data.test_fraction=0 --out "$T/ref" >/dev/null 2>&1
estimates "$T/ref/summary.json" >"$T/ref.est"

# 1. local mode: kill one of three workers while the round is in flight
COHORT_TEST_TASK_DELAY_MS=1500 timeout 60 "$COHORT" run $exp --workers 3 $set0 --out "$T/k" \
    >/dev/null 2>"$T/k.err" &
cpid=$!
sleep 0.8
coord=$(child $cpid)
victim=$(child "$coord")
kill -9 "$victim"
wait $cpid
rc=$?
check "run survives a killed worker (exit 0)" [ $rc -eq 0 ]
check "the lost worker is named" grep -q "pid $victim) lost: killed by signal 9" "$T/k.err"
check "its shard was reassigned" grep -q '"topic": "worker.reassigned"' "$T/k/events.jsonl"
check "coefficients still exact" cmp -s "$T/ref.est" <(estimates "$T/k/summary.json")
check "no zombie or orphan after a kill" no_workers_left "cohort worker --connect ipc:///tmp/cohort-$coord"

# 2. under mpirun --enable-recovery: kill a worker rank
COHORT_TEST_TASK_DELAY_MS=1500 timeout 120 mpirun --oversubscribe --enable-recovery -np 4 \
    -x COHORT_TEST_TASK_DELAY_MS "$COHORT" run $exp $set0 --out "$T/mk" >/dev/null 2>"$T/mk.err" &
mpid=$!
wait_for "$T/mk/endpoints.json" 20
sleep 1.2
victim=$(pgrep -f "cohort run $exp" | while read p; do
    [ "$(cat /proc/$p/environ 2>/dev/null | tr '\0' '\n' | grep -c '^OMPI_COMM_WORLD_RANK=[12]$')" = 1 ] && echo $p
done | head -n 1)
[ -n "$victim" ] && kill -9 "$victim"
wait $mpid
check "mpirun: coordinator reassigns a dead rank's shard and finishes" grep -q '"status": "finished"' "$T/mk/summary.json"
check "mpirun: coefficients still exact" cmp -s "$T/ref.est" <(estimates "$T/mk/summary.json")

# 3. by-file: a lost silo cannot be replaced: clear message, non-zero exit
head -n 90 data/wine.csv >"$T/silo0.csv"
(head -n 1 data/wine.csv; sed -n '91,$p' data/wine.csv) >"$T/silo1.csv"
timeout 60 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 2 $set0 \
    --set partition.scheme=by-file --out "$T/bf" >/dev/null 2>"$T/bf.err" &
cpid=$!
wait_for "$T/bf/endpoints.json" 10
ep=$(endpoint "$T/bf")
COHORT_TEST_TASK_DELAY_MS=3000 timeout 60 "$COHORT" worker --connect "$ep" --data "$T/silo0.csv" 2>/dev/null &
w0=$!
COHORT_TEST_TASK_DELAY_MS=3000 timeout 60 "$COHORT" worker --connect "$ep" --data "$T/silo1.csv" 2>/dev/null &
w1=$!
sleep 1
kill -9 "$(child $w1)"
wait $cpid
rc=$?
wait $w0 2>/dev/null
check "by-file: run stops with a non-zero exit" [ $rc -ne 0 ]
check "by-file: the message says the silo's data cannot be reached" grep -q "cannot be reached" "$T/bf.err"
check "by-file: summary.json says failed" grep -q '"status": "failed"' "$T/bf/summary.json"

# 4. a killed coordinator: its workers exit by themselves within the timeout
COHORT_TEST_TASK_DELAY_MS=20000 timeout 60 "$COHORT" run $exp --workers 2 $set0 --out "$T/c" \
    >/dev/null 2>"$T/c.err" &
cpid=$!
wait_for "$T/c/endpoints.json" 10
sleep 0.5
coord=$(child $cpid)
kids=$(pgrep -P "$coord" | tr '\n' ' ')
kill -9 "$coord"
wait $cpid 2>/dev/null
sleep 1
alive=0
for k in $kids; do alive "$k" && alive=$((alive + 1)); done
check "local workers of a killed coordinator exit within 1 s (parent-death signal)" [ $alive -eq 0 ]

timeout 60 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 1 $set0 --out "$T/c2" \
    >/dev/null 2>&1 &
cpid=$!
wait_for "$T/c2/endpoints.json" 10
ep=$(endpoint "$T/c2")
start=$(date +%s)
COHORT_TEST_TASK_DELAY_MS=30000 timeout 60 "$COHORT" worker --connect "$ep" 2>"$T/w.err" &
wpid=$!
sleep 1
kill -9 "$(child $cpid)"
wait $wpid
wrc=$?
took=$(($(date +%s) - start))
check "a remote worker exits on its own after the coordinator dies (${took}s)" [ $took -le 40 ]
check "it says why" grep -q "coordinator has been silent" "$T/w.err"
check "with a non-zero status" [ $wrc -ne 0 ]
finish
