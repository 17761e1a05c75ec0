# isolation_forest.sh: the isolation forest end to end: the same model.pb
# for 1, 2 and 4 workers (axis and hyperplane splits), by-file silos that
# each grow trees from their own rows, cohort predict, and bad input.
. "$(dirname "$0")/lib.sh"
EX=examples/isolation_forest.yaml

for w in 1 2 4; do
    timeout 60 "$COHORT" run $EX --workers $w --out "$T/w$w" >/dev/null 2>"$T/w$w.err"
    check "run with $w workers finishes" grep -q '"status": "finished"' "$T/w$w/summary.json"
done
# model.pb also holds the resolved config (workers: N), so the models are
# compared by their scores of every row and by summary.json without the
# run's id, time and worker count
same_model() { # same_model DIR_A DIR_B
    timeout 30 "$COHORT" predict --model "$1/model.pb" --data data/breast_cancer.csv \
        --out "$1/all.csv" 2>/dev/null &&
        timeout 30 "$COHORT" predict --model "$2/model.pb" --data data/breast_cancer.csv \
            --out "$2/all.csv" 2>/dev/null &&
        cmp -s "$1/all.csv" "$2/all.csv" &&
        cmp -s <(grep -v '"run_id"\|"wall_seconds"\|"workers"' "$1/summary.json") \
            <(grep -v '"run_id"\|"wall_seconds"\|"workers"' "$2/summary.json")
}
check "1 and 2 workers: identical scores and summary" same_model "$T/w1" "$T/w2"
check "1 and 4 workers: identical scores and summary" same_model "$T/w1" "$T/w4"
check "summary has auc, average_precision, n_anomalies, threshold" \
    grep -q '"average_precision"' "$T/w1/summary.json"
check "summary lists the top anomalies with their columns" grep -q '"typical"' "$T/w1/summary.json"
# the AUC on the held-out rows is a real separation (sklearn's mean over
# seeds on all rows is 0.788; see tests/unit/test_isolation_forest.c)
auc=$(grep -o '"auc": [0-9.]*' "$T/w1/summary.json" | head -n 1 | sed 's/.*: //')
check "held-out AUC $auc is above 0.75" awk -v a="$auc" 'BEGIN { exit !(a > 0.75) }'
check "report has the anomaly table and ROC curve" grep -q "Most anomalous training rows" "$T/w1/report.html"

# extended isolation forest and a contamination threshold, 1 vs 3 workers
for w in 1 3; do
    timeout 60 "$COHORT" run $EX --workers $w --out "$T/e$w" --set model.extension_level=2 \
        --set model.contamination=0.05 --set model.max_features=0.5 --set model.bootstrap=true \
        >/dev/null 2>"$T/e$w.err"
done
check "extended forest: identical scores and summary for 1 and 3 workers" same_model "$T/e1" "$T/e3"
n=$(grep -o '"n_anomalies": [0-9]*' "$T/e1/summary.json" | sed 's/.*: //' | head -n 1)
check "contamination 0.05 flags at most 5% of 398 training rows ($n)" [ "${n:-999}" -le 19 ]
check "contamination 0.05 flags at least one row ($n)" [ "${n:-0}" -ge 1 ]

# predict: one score per row, all in (0, 1]
timeout 30 "$COHORT" predict --model "$T/w2/model.pb" --data data/breast_cancer.csv \
    --out "$T/preds.csv" 2>"$T/pred.err"
check "predict writes one score per row" [ "$(wc -l <"$T/preds.csv")" -eq 570 ]
check "scores are in (0, 1]" awk -F, 'NR > 1 && !($1 > 0 && $1 <= 1) { bad = 1 } END { exit bad }' "$T/preds.csv"
check "predict flags a row exactly when its score reaches the threshold" awk -F, -v t="$(grep -o '"threshold": [0-9.]*' "$T/w2/summary.json" | head -n 1 | sed 's/.*: //')" \
    'NR == 1 { if ($2 != "anomaly") bad = 1; next } { if (($1 >= t) != ($2 == 1)) bad = 1 } END { exit bad }' "$T/preds.csv"
check "anomalies.csv lists the top rows, most anomalous first" awk -F, \
    'NR > 2 && $4 > prev { bad = 1 } NR > 1 { prev = $4; n++ } END { exit bad || n < 1 }' "$T/w2/anomalies.csv"

# by-file silos: each silo grows its trees from its own rows only
head -n 1 data/breast_cancer.csv >"$T/silo0.csv"
head -n 1 data/breast_cancer.csv >"$T/silo1.csv"
sed -n '2,300p' data/breast_cancer.csv >>"$T/silo0.csv"
sed -n '301,$p' data/breast_cancer.csv >>"$T/silo1.csv"
# the example sets top_k; the silo runs use the default
sed -e '/top_k:/d' -e "s|\.\./data/|$PWD/data/|" $EX >"$T/silo.yaml"
silos() { # silos DIR [--set ...]: a coordinator and one worker per silo file
    local d=$1
    shift
    timeout 60 "$COHORT" coordinator "$T/silo.yaml" --bind tcp://127.0.0.1:0 --workers 2 \
        --set partition.scheme=by-file --set data.test_fraction=0 "$@" --out "$d" >/dev/null 2>"$d.err" &
    wait_for "$d/endpoints.json" 10
    local ep
    ep=$(endpoint "$d")
    timeout 60 "$COHORT" worker --connect "$ep" --data "$T/silo0.csv" 2>/dev/null &
    timeout 60 "$COHORT" worker --connect "$ep" --data "$T/silo1.csv" 2>/dev/null
    wait
}
silos "$T/b"
check "by-file silos finish" grep -q '"status": "finished"' "$T/b/summary.json"
check "by default no silo row leaves its silo (anomalies.csv has only its header)" \
    awk 'END { exit NR != 1 }' "$T/b/anomalies.csv"
check "by default the summary lists no silo rows" sh -c "! grep -q '\"silo\": ' '$T/b/summary.json'"
check "by-file silos still count anomalies" grep -q '"n_anomalies": [1-9]' "$T/b/summary.json"
silos "$T/b5" --set model.top_k=5
check "an explicit top_k lists rows that name their silo" grep -q '"silo": ' "$T/b5/summary.json"
check "an explicit top_k writes that many rows" awk 'END { exit NR != 6 }' "$T/b5/anomalies.csv"

# bad input: clear errors
expect_error() { # expect_error DESCRIPTION TEXT CMD...
    local d=$1 text=$2
    shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
        bad "$d: exit status $rc"; cat "$T/err"; return
    fi
    if grep -qF -- "$text" "$T/err"; then ok "$d"; else bad "$d: stderr lacks '$text'"; cat "$T/err"; fi
}
expect_error "max_samples larger than the training rows" "larger than the 398 training rows" \
    "$COHORT" run $EX --workers 2 --out "$T/x1" --set model.max_samples=1000
expect_error "contamination out of range" "model.contamination" \
    "$COHORT" run $EX --workers 1 --out "$T/x2" --set model.contamination=0.9
expect_error "max_samples not a number" "model.max_samples" \
    "$COHORT" run $EX --workers 1 --out "$T/x3" --set model.max_samples=lots
expect_error "extension_level needs enough columns" "model.extension_level" \
    "$COHORT" run $EX --workers 1 --out "$T/x4" --set model.extension_level=30
expect_error "max_features beyond the columns" "model.max_features" \
    "$COHORT" run $EX --workers 1 --out "$T/x5" --set model.max_features=31
(head -n 2 data/breast_cancer.csv) >"$T/one.csv"
printf 'name: one\nseed: 1\ndata:\n  train: %s\nmodel:\n  algorithm: isolation_forest\n' "$T/one.csv" >"$T/one.yaml"
expect_error "one training row is too few" "at least 2" "$COHORT" run "$T/one.yaml" --workers 1 \
    --out "$T/x6" --set data.test_fraction=0
check "no local worker left behind" no_orphan_workers
finish
