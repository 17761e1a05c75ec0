# silo_privacy.sh: with partition.scheme by-file no training row leaves its
# silo. Each algorithm that accepts by-file silos is run with two silo
# workers whose every sent message is captured (COHORT_TEST_CAPTURE); one
# cell of silo 0 holds a canary value found nowhere else in the data, and
# the captured bytes must not hold it as a double, a float or text. The
# positive controls (isolation_forest asked for its top rows, gbt's shared
# quantile sketch) show that a value that does travel is found.
. "$(dirname "$0")/lib.sh"

# has FILE NUMBER: FILE holds NUMBER as a little-endian double or float, or as text
has() {
    perl -0777 -ne 'BEGIN { $v = shift @ARGV }
        exit(index($_, pack("d<", $v)) >= 0 || index($_, pack("f<", $v)) >= 0 ||
             index($_, $v) >= 0 ? 0 : 1)' "$2" "$1"
}

# silos NAME CONFIG DATA COLUMN CANARY [--set ...]: splits DATA in two silo
# files, writes CANARY into COLUMN (1-based) of silo 0's third row, runs
# the by-file experiment and leaves the workers' captures in $T/NAME/sent*
silos() {
    local name=$1 cfg=$2 data=$3 col=$4 canary=$5
    shift 5
    local d="$T/$name"
    mkdir -p "$d"
    local n
    n=$(($(wc -l <"$data") / 2))
    head -n "$n" "$data" | awk -F, -v OFS=, -v c="$col" -v v="$canary" 'NR == 4 { $c = v "" } 1' >"$d/silo0.csv"
    (head -n 1 "$data"; tail -n +"$((n + 1))" "$data") >"$d/silo1.csv"
    timeout 120 "$COHORT" coordinator "$cfg" --bind tcp://127.0.0.1:0 --workers 2 \
        --set partition.scheme=by-file --set data.test_fraction=0 --out "$d/run" "$@" \
        >/dev/null 2>"$d/coord.err" &
    local cpid=$!
    if wait_for "$d/run/endpoints.json" 20; then
        local ep
        ep=$(endpoint "$d/run")
        COHORT_TEST_CAPTURE="$d/sent0" timeout 120 "$COHORT" worker --connect "$ep" \
            --data "$d/silo0.csv" 2>"$d/w0.err" &
        COHORT_TEST_CAPTURE="$d/sent1" timeout 120 "$COHORT" worker --connect "$ep" \
            --data "$d/silo1.csv" 2>"$d/w1.err" &
    fi
    wait $cpid
    wait
    if ! grep -q '"status": "finished"' "$d/run/summary.json" 2>/dev/null; then
        bad "$name: the by-file run failed"; tail -n 3 "$d/coord.err"; return 1
    fi
    check "$name: silo 0 sent messages" [ -s "$d/sent0" ]
}

C=3.14159265358979
silos ols examples/ols.yaml data/wine.csv 2 $C && check "ols: the canary is in no message silo 0 sent" eval '! has "$T/ols/sent0" $C'
silos logistic examples/logistic.yaml data/churn.csv 7 123.456789012 &&
    check "logistic: the canary is in no message silo 0 sent" eval '! has "$T/logistic/sent0" 123.456789012'
silos random_forest examples/churn-rf.yaml data/churn.csv 7 123.456789012 --set model.n_trees=20 &&
    check "random_forest: the canary is in no message silo 0 sent" eval '! has "$T/random_forest/sent0" 123.456789012'
# gbt's quantile sketch sends each silo's distinct feature values: refused
# with by-file unless model.share_sketch accepts it, and then the canary does
# travel (a second positive control)
# (the model keys are checked when the silos' columns are known)
timeout 60 "$COHORT" coordinator examples/churn-gbt.yaml --bind tcp://127.0.0.1:0 --workers 2 \
    --set partition.scheme=by-file --out "$T/gbt-refused" >/dev/null 2>"$T/gbt-refused.err" &
cpid=$!
if wait_for "$T/gbt-refused/endpoints.json" 20; then
    ep=$(endpoint "$T/gbt-refused")
    timeout 60 "$COHORT" worker --connect "$ep" --data "$T/logistic/silo0.csv" >/dev/null 2>&1 &
    timeout 60 "$COHORT" worker --connect "$ep" --data "$T/logistic/silo1.csv" >/dev/null 2>&1 &
fi
wait $cpid
check "gbt: a refused by-file run exits non-zero" [ $? -ne 0 ] 
wait
check "gbt: by-file is refused unless model.share_sketch accepts the sketch" \
    grep -q "set model.share_sketch: true to accept" "$T/gbt-refused.err"
silos gbt examples/churn-gbt.yaml data/churn.csv 7 123.456789012 --set model.rounds=3 \
    --set model.share_sketch=true &&
    check "control: gbt with share_sketch sends the canary in its sketch" has "$T/gbt/sent0" 123.456789012
silos kmeans examples/kmeans.yaml data/wine.csv 2 $C &&
    check "kmeans: the canary is in no message silo 0 sent" eval '! has "$T/kmeans/sent0" $C'
silos isolation_forest examples/isolation_forest.yaml data/breast_cancer.csv 2 77.7777777 --set model.top_k=0 &&
    check "isolation_forest: the canary is in no message silo 0 sent" eval '! has "$T/isolation_forest/sent0" 77.7777777'
silos synthetic examples/synthetic.yaml data/churn.csv 7 123.456789012 &&
    check "synthetic: the canary is in no message silo 0 sent" eval '! has "$T/synthetic/sent0" 123.456789012'
# the synthetic generator's privacy round, asked for explicitly (by-file
# runs leave it out by default: the histogram carries no noise): each silo
# counts its rows' distances to the synthetic sample and sends only the
# histogram
head -n 4001 data/churn.csv >"$T/churn4000.csv"
(head -n 1 data/churn.csv; tail -n 1000 data/churn.csv) >"$T/churn_holdout.csv"
silos synthetic_eval examples/synthetic.yaml "$T/churn4000.csv" 7 123.456789012 \
    --set data.test="$T/churn_holdout.csv" --set model.privacy_eval=true &&
    check "synthetic with held-out rows: the canary is in no message silo 0 sent" \
        eval '! has "$T/synthetic_eval/sent0" 123.456789012' &&
    check "synthetic by-file: about 2000 of the silos' rows (the cap) against 1000 held-out, no copy" \
        grep -q '"train_rows": 20[0-9][0-9], "holdout_rows": 1000, "exact_match_train": 0,' \
        "$T/synthetic_eval/run/summary.json"
# by default a by-file run with held-out rows does not run that round
silos synthetic_noeval examples/synthetic.yaml "$T/churn4000.csv" 7 123.456789012 \
    --set data.test="$T/churn_holdout.csv" &&
    check "synthetic by-file: no privacy round unless model.privacy_eval is set" \
        eval '! grep -q "\"holdout_rows\"" "$T/synthetic_noeval/run/summary.json" &&
              grep -q "\"status\": \"finished\"" "$T/synthetic_noeval/run/summary.json"'
silos fedavg examples/fedavg.yaml data/churn.csv 7 123.456789012 --set model.federated.rounds=2 \
    --set model.federated.min_workers=2 &&
    check "fedavg: the canary is in no message silo 0 sent" eval '! has "$T/fedavg/sent0" 123.456789012'

# positive control: an isolation forest asked for its most anomalous rows
# sends them (1000: every row of a silo), and the canary is found
silos iforest_top examples/isolation_forest.yaml data/breast_cancer.csv 2 777.7777777 --set model.top_k=1000 &&
    check "control: a row that does leave (isolation_forest top_k: 1000) is found" has "$T/iforest_top/sent0" 777.7777777
check "no local worker left behind" no_orphan_workers
finish
