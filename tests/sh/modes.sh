# modes.sh: the same OLS experiment gives the same coefficients with 1, 2
# and 4 workers in local mode, under mpirun, and with standalone workers over
# tcp; by-file silos agree to 1e-12; predict reproduces the test metrics.
. "$(dirname "$0")/lib.sh"
exp=examples/ols.yaml
set0="--set data.test_fraction=0"

timeout 60 "$COHORT" run $exp --workers 1 $set0 --out "$T/l1" >/dev/null 2>"$T/l1.err"
check "local, 1 worker finishes" grep -q '"status": "finished"' "$T/l1/summary.json"
estimates "$T/l1/summary.json" >"$T/ref"
check "15 coefficients" [ "$(wc -l <"$T/ref")" -eq 15 ]
for w in 2 4; do
    timeout 60 "$COHORT" run $exp --workers $w $set0 --out "$T/l$w" >/dev/null 2>&1
    check "local, $w workers: identical coefficients" cmp -s "$T/ref" <(estimates "$T/l$w/summary.json")
    check "local, $w workers: identical model.pb bytes" cmp -s "$T/l1/model.pb" "$T/l$w/model.pb"
done
for np in 2 3 5; do
    timeout 120 mpirun --oversubscribe --enable-recovery -np $np "$COHORT" run $exp $set0 \
        --out "$T/m$np" >/dev/null 2>"$T/m$np.err"
    check "mpirun -np $np: identical coefficients" cmp -s "$T/ref" <(estimates "$T/m$np/summary.json")
    check "mpirun -np $np: $((np - 1)) workers" grep -q "\"workers\": $((np - 1))" "$T/m$np/summary.json"
done

# standalone coordinator on an ephemeral tcp port, workers started by hand
timeout 60 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 2 $set0 --out "$T/s" \
    >/dev/null 2>"$T/s.err" &
cpid=$!
wait_for "$T/s/endpoints.json" 10
ep=$(endpoint "$T/s")
timeout 60 "$COHORT" worker --connect "$ep" 2>/dev/null &
timeout 60 "$COHORT" worker --connect "$ep" 2>/dev/null
wait
check "standalone tcp: identical coefficients" cmp -s "$T/ref" <(estimates "$T/s/summary.json")

# by-file silos: each worker reads its own half of the rows
head -n 1 data/wine.csv >"$T/silo0.csv"
head -n 1 data/wine.csv >"$T/silo1.csv"
sed -n '2,91p' data/wine.csv >>"$T/silo0.csv"
sed -n '92,$p' data/wine.csv >>"$T/silo1.csv"
timeout 60 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 2 $set0 \
    --set partition.scheme=by-file --out "$T/b" >/dev/null 2>"$T/b.err" &
wait_for "$T/b/endpoints.json" 10
ep=$(endpoint "$T/b")
timeout 60 "$COHORT" worker --connect "$ep" --data "$T/silo0.csv" 2>/dev/null &
timeout 60 "$COHORT" worker --connect "$ep" --data "$T/silo1.csv" 2>/dev/null
wait
check "by-file silos finish" grep -q '"status": "finished"' "$T/b/summary.json"
# agree with the pooled fit to 1e-12 relative (the blocks differ, the math does not)
paste -d' ' "$T/ref" <(estimates "$T/b/summary.json") | awk '
    { a = $2; b = $4; d = a - b; if (d < 0) d = -d; s = a < 0 ? -a : a; if (s < 1e-3) s = 1e-3;
      if (d / s > 1e-12) { bad = 1; print "differs:", a, b } }
    END { exit bad }' >"$T/bdiff"
check "by-file coefficients equal the pooled fit to 1e-12" [ $? -eq 0 ]

# predict with the saved model reproduces the run's test metrics
timeout 60 "$COHORT" run $exp --workers 2 --out "$T/p" >/dev/null 2>&1
timeout 30 "$COHORT" predict --model "$T/p/model.pb" --data data/wine.csv --out "$T/preds.csv" 2>"$T/pred.err"
check "predict writes one row per input row" [ "$(wc -l <"$T/preds.csv")" -eq 179 ]
check "predict prints metrics" grep -q '"rmse"' "$T/pred.err"
check "no local worker left behind" no_orphan_workers
finish
