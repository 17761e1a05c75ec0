# random_forest.sh: random forests through `cohort run`: the same forest
# (predictions, importances, OOB score, model size) for 1, 2, 3 and 4
# workers; churn quality; the report's sections; regression; by-file
# federated bagging; bad inputs giving clear errors.
. "$(dirname "$0")/lib.sh"
exp=examples/churn-rf.yaml
small="--set model.n_trees=30 --set model.trees_per_round=7"

expect_error() { # DESCRIPTION TEXT CMD...: exit 1 or 2 and stderr contains TEXT
    local d=$1 text=$2
    shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
        bad "$d: exit status $rc"; cat "$T/err"; return
    fi
    if grep -qF -- "$text" "$T/err"; then ok "$d"; else bad "$d: stderr lacks '$text'"; cat "$T/err"; fi
}
num() { grep -o "\"$2\": [^,}]*" "$1" | head -n 1 | sed 's/.*: //'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# forest FILE: what must not depend on the worker count: metrics,
# OOB score, importances
forest() { grep -v '"wall_seconds"\|"workers"\|"run_id"' "$1"; }

# 1. determinism: 1, 2, 3, 4 workers
for w in 1 2 3 4; do
    timeout 120 "$COHORT" run $exp --workers $w $small --out "$T/w$w" >/dev/null 2>"$T/w$w.err"
    check "$w workers: finishes" grep -q '"status": "finished"' "$T/w$w/summary.json"
    timeout 60 "$COHORT" predict --model "$T/w$w/model.pb" --data data/churn.csv \
        --out "$T/p$w.csv" 2>/dev/null
done
for w in 2 3 4; do
    check "$w workers: predictions identical to 1 worker (all 5000 rows, %.17g)" \
        cmp -s "$T/p1.csv" "$T/p$w.csv"
    check "$w workers: summary identical (metrics, OOB, importances)" \
        cmp -s <(forest "$T/w1/summary.json") <(forest "$T/w$w/summary.json")
    check "$w workers: model.pb byte-identical to 1 worker's" cmp -s "$T/w1/model.pb" "$T/w$w/model.pb"
done
check "predict writes the class and both probabilities" \
    grep -q '^predicted,p_no,p_yes$' "$T/p1.csv"

# 2. churn quality, 100 trees (scikit-learn, same data: AUC ~0.92, accuracy ~0.95)
timeout 120 "$COHORT" run $exp --workers 2 --out "$T/full" >/dev/null 2>&1
s="$T/full/summary.json"
check "churn: test AUC >= 0.89" ge "$(num "$s" test_auc)" 0.89
check "churn: test accuracy >= 0.93" ge "$(num "$s" test_accuracy)" 0.93
check "churn: OOB accuracy >= 0.93" ge "$(num "$s" oob_score)" 0.93
check "churn: permutation importances in summary" grep -q '"permutation": ' "$s"
r="$T/full/report.html"
check "report: OOB error curve" grep -q 'Out-of-bag error against the number of trees' "$r"
check "report: importance bars" grep -q 'Impurity importance' "$r"
check "report: permutation bars" grep -q 'Permutation importance on test rows' "$r"
check "report: confusion matrix" grep -q 'Confusion matrix' "$r"
check "round metric oob_error recorded per round" grep -q '"oob_error"' "$T/full/events.jsonl"

# 3. regression (wine alcohol): R^2 on test and OOB
cat >"$T/reg.yaml" <<YAML
name: wine-rf-regression
seed: 42
data: {train: $PWD/data/wine.csv, target: alcohol, test_fraction: 0.2}
model: {algorithm: random_forest, n_trees: 50}
YAML
timeout 60 "$COHORT" run "$T/reg.yaml" --workers 2 --out "$T/reg" >/dev/null 2>"$T/reg.err"
check "regression: finishes with test_r2 and OOB R^2 > 0.3" \
    ge "$(num "$T/reg/summary.json" oob_score)" 0.3
check "regression: test_rmse present" grep -q '"test_rmse"' "$T/reg/summary.json"

# 4. documented behaviours: a constant and an all-missing column are
# never split; exact splitter and class weights run
awk -F, 'BEGIN { OFS = "," } NR == 1 { print $0, "const", "allna"; next } { print $0, 1, "NA" }' \
    data/churn.csv >"$T/extra.csv"
timeout 60 "$COHORT" run $exp --set data.train="$T/extra.csv" $small \
    --set model.class_weight=balanced_subsample --set model.splitter=exact \
    --out "$T/extra" >/dev/null 2>"$T/extra.err"
check "constant and all-missing columns: run finishes" \
    grep -q '"status": "finished"' "$T/extra/summary.json"
check "constant and all-missing columns: zero importance" \
    grep -q '"name": "const", "impurity": 0,' "$T/extra/summary.json"

# 5. bad inputs
expect_error "max_features above the feature count" "more than the 19 features" \
    "$COHORT" run $exp --set model.max_features=25 --out "$T/b1"
expect_error "criterion for the wrong task" "is for regression" \
    "$COHORT" run $exp --set model.criterion=squared_error --out "$T/b2"
expect_error "max_features fraction out of range" "out of range (0, 1]" \
    "$COHORT" run $exp --set model.max_features=1.5 --out "$T/b3"
awk -F, 'NR == 1 || $NF == "\"no\""' data/churn.csv >"$T/oneclass.csv"
printf 'name: one\ndata: {train: oneclass.csv, target: churn}\nmodel: {algorithm: random_forest}\n' >"$T/one.yaml"
expect_error "single-class target" "single class" \
    "$COHORT" run "$T/one.yaml" --workers 1 --out "$T/b4"
sed 's/^"KS"/"ZZ"/' data/churn.csv >"$T/unseen.csv"
expect_error "unseen categorical level at predict" "ZZ" \
    "$COHORT" predict --model "$T/w1/model.pb" --data "$T/unseen.csv"

# 6. by-file: each silo grows its trees on its own rows; the forest is the
# union; only trees travel (the update messages are Tree protobufs)
head -n 2501 data/churn.csv >"$T/silo0.csv"
(head -n 1 data/churn.csv; sed -n '2502,$p' data/churn.csv) >"$T/silo1.csv"
timeout 120 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 2 $small \
    --set partition.scheme=by-file --set data.test_fraction=0 --out "$T/bf" >/dev/null 2>"$T/bf.err" &
cpid=$!
wait_for "$T/bf/endpoints.json" 10
ep=$(endpoint "$T/bf")
timeout 120 "$COHORT" worker --connect "$ep" --data "$T/silo0.csv" 2>/dev/null &
timeout 120 "$COHORT" worker --connect "$ep" --data "$T/silo1.csv" 2>/dev/null &
wait $cpid
check "by-file: forest of the two silos finishes" grep -q '"status": "finished"' "$T/bf/summary.json"
check "by-file: 30 trees" grep -q '"n_trees": 30' "$T/bf/summary.json"
check "by-file: no OOB score (the coordinator has no rows)" grep -q '"oob_score": null' "$T/bf/summary.json"
wait
finish
