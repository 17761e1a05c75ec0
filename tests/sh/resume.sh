# resume.sh: a coordinator killed mid-run leaves a checkpoint; `cohort run
# --resume DIR` continues from it and produces the same final model as an
# uninterrupted run.
. "$(dirname "$0")/lib.sh"
export COHORT_DB="$T/cohort.db"
exp=examples/logistic.yaml

timeout 120 "$COHORT" run $exp --workers 2 --out "$T/ref" >/dev/null 2>&1
check "uninterrupted run finishes" grep -q '"status": "finished"' "$T/ref/summary.json"
estimates "$T/ref/summary.json" >"$T/ref.est"
rounds=$(grep -o '"rounds": [0-9]*' "$T/ref/summary.json" | grep -o '[0-9]*$')
check "IRLS takes several rounds ($rounds)" [ "${rounds:-0}" -ge 3 ]

COHORT_TEST_TASK_DELAY_MS=600 timeout 120 "$COHORT" run $exp --workers 2 --out "$T/int" \
    >/dev/null 2>"$T/int.err" &
tpid=$!
# wait for two finished rounds, then kill the coordinator without warning
wait_rounds "$T/int" 2
coord=$(child $tpid)
kill -9 "$coord"
wait $tpid 2>/dev/null
check "the killed run left a checkpoint" [ -s "$T/int/checkpoints/latest.pb" ]
unfinished() { ! grep -q '"status": "finished"' "$T/int/summary.json" 2>/dev/null; }
check "and no summary saying finished" unfinished

timeout 120 "$COHORT" run --resume "$T/int" >/dev/null 2>"$T/res.err"
check "resume finishes" grep -q '"status": "finished"' "$T/int/summary.json"
check "resume starts after the checkpointed round" grep -q "resuming .* after round [1-9]" "$T/res.err"
check "the resumed model equals the uninterrupted one" \
    eval '[ -s "$T/ref.est" ] && cmp -s "$T/ref.est" <(estimates "$T/int/summary.json")' 
check "and model.pb is the same bytes (the resolved config included)" cmp -s "$T/ref/model.pb" "$T/int/model.pb"
check "no orphan workers" no_orphan_workers
finish
