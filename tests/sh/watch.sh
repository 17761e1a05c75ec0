# watch.sh: `cohort watch RUN_DIR` follows a live run to its end, and
# `cohort watch` on an endpoint where nothing listens says it is waiting and
# gives up after --timeout.
. "$(dirname "$0")/lib.sh"

COHORT_TEST_TASK_DELAY_MS=2000 timeout 120 "$COHORT" run examples/ols.yaml --workers 2 \
    --out "$T/w" >/dev/null 2>"$T/run.err" &
rpid=$!
wait_for "$T/w/endpoints.json" 30
check "the run writes endpoints.json" [ -s "$T/w/endpoints.json" ]
timeout 60 "$COHORT" watch "$T/w" >"$T/watch.out" 2>"$T/watch.err"
wrc=$?
wait $rpid
check "the run finishes" grep -q '"status": "finished"' "$T/w/summary.json"
check "watch exits 0 after the run ends" [ $wrc -eq 0 ]
check "watch says where it waits" grep -q '^waiting for events from ' "$T/watch.out"
check "watch prints a round.end line with metrics" grep -qE 'round\.end round=0 .*rows_used=' "$T/watch.out"
check "watch prints run.end" grep -q 'run\.end status=finished' "$T/watch.out"
n_rounds=$(grep -c '"topic": "round.end"' "$T/w/events.jsonl")
check "watch prints each round.end once ($n_rounds rounds)" \
    awk -v n="$n_rounds" -v w="$(grep -c 'round\.end' "$T/watch.out")" 'BEGIN { exit !(n >= 1 && w == n) }'

# a finished run: watch reads events.jsonl and exits at once
timeout 20 "$COHORT" watch "$T/w" --timeout 5 >"$T/again.out" 2>&1
check "watch on a finished run exits 0" [ $? -eq 0 ]
check "watch on a finished run shows its end" grep -q 'run\.end status=finished' "$T/again.out"

# nothing listens: a waiting message, then exit 1 after the timeout
timeout 20 "$COHORT" watch tcp://127.0.0.1:1 --timeout 1 >"$T/none.out" 2>"$T/none.err"
check "watch with nothing listening exits 1 on --timeout" [ $? -eq 1 ]
check "watch with nothing listening prints the waiting message" \
    grep -q 'waiting for events from tcp://127.0.0.1:1' "$T/none.out"
check "watch explains the timeout" grep -q 'no event from tcp://127.0.0.1:1 within 1 s' "$T/none.err"

timeout 10 "$COHORT" watch >/dev/null 2>&1
check "watch without an endpoint is a usage error" [ $? -eq 2 ]
finish
