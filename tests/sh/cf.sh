# cf.sh: collaborative filtering through `cohort run`: ALS (implicit and
# explicit), item_knn and user_knn give byte-identical model.pb and
# recommendations.csv for 1, 2 and 3 workers (kNN over several row blocks;
# ALS users and items each solved on the workers); an ALS run killed in
# the middle of an iteration resumes to the same model.pb;
# recall@10 on the planted structure of data/ratings_synthetic.csv; the
# leave-k-out and time splits; predict with a saved model (unknown users get
# the global mean), for chosen users (top-N, as recommendations.csv) and
# chosen items (similar items, as similar_items.csv, for als from the item
# factors); bad configurations and data (and by-file silos) giving clear
# errors.
. "$(dirname "$0")/lib.sh"
exp=examples/cf.yaml

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
metric() { grep -o "\"$2\": [0-9.e-]*" "$1" | head -n 1 | sed 's/.*: //'; }
same_runs() { # NAME: runs $T/NAME1, 2, 3 identical
    for w in 2 3; do
        check "$1, $w workers: model.pb identical to 1 worker" cmp -s "$T/${1}1/model.pb" "$T/$1$w/model.pb"
        check "$1, $w workers: recommendations.csv identical" cmp -s "$T/${1}1/recommendations.csv" "$T/$1$w/recommendations.csv"
        check "$1, $w workers: metrics identical" cmp -s <(grep '"metrics"' "$T/${1}1/summary.json") <(grep '"metrics"' "$T/$1$w/summary.json")
    done
}
runs() { # NAME CONFIG ARGS...: run with 1, 2 and 3 workers
    local name=$1 cfg=$2
    shift 2
    for w in 1 2 3; do
        timeout 120 "$COHORT" run "$cfg" --workers $w --out "$T/$name$w" "$@" >/dev/null 2>"$T/$name$w.err"
        check "$name, $w workers: finishes" grep -q '"status": "finished"' "$T/$name$w/summary.json"
    done
    same_runs "$name"
}

runs als $exp
check "als: 20 rounds (users, then items, 10 iterations)" grep -q '"rounds": 20,' "$T/als1/summary.json"
check "als: recall@10 of the planted groups >= 0.2" awk -v r="$(metric "$T/als1/summary.json" test_recall_at_k)" 'BEGIN { exit !(r >= 0.2) }'
check "als: 10 recommendations for each of 600 users" [ "$(tail -n +2 "$T/als1/recommendations.csv" | wc -l)" -eq 6000 ]
check "als: recommendations.csv header" [ "$(head -1 "$T/als1/recommendations.csv")" = "user,rank,item,score" ]
check "als: similar_items.csv, 10 per item for 300 items" [ "$(grep -c '^[0-9]*,[0-9]*,[0-9]*,0\.[0-9]' "$T/als1/similar_items.csv")" -eq 3000 ]
for w in 2 3; do
    check "als, $w workers: similar_items.csv identical" cmp -s "$T/als1/similar_items.csv" "$T/als$w/similar_items.csv"
done
check "report: learning curve of test_ndcg_at_k" grep -q "test_ndcg_at_k" "$T/als1/report.html"
check "report: sample of recommendations" grep -q "Sample of recommendations" "$T/als1/report.html"

runs alsx $exp --set model.implicit=false --set model.regularization=5 --set model.iterations=4
check "explicit als: test RMSE below 0.9" awk -v r="$(metric "$T/alsx1/summary.json" test_rmse)" 'BEGIN { exit !(r > 0 && r < 0.9) }'
check "explicit als: train_rmse curve" grep -q '"train_rmse"' "$T/alsx1/events.jsonl"

# an explicit ALS run killed after 3 rounds (the users of iteration 2
# solved, its items not yet) resumes from the half-step checkpoint to the
# same model.pb as the uninterrupted run
export COHORT_DB="$T/cohort.db"
COHORT_TEST_TASK_DELAY_MS=400 timeout 120 "$COHORT" run $exp --workers 2 --out "$T/alsk" \
    --set model.implicit=false --set model.regularization=5 --set model.iterations=4 >/dev/null 2>&1 &
tpid=$!
i=0
while [ "$(grep -c '"topic": "round.end"' "$T/alsk/events.jsonl" 2>/dev/null)" != 3 ] && [ $i -lt 300 ]; do
    sleep 0.05
    i=$((i + 1))
done
sleep 0.2 # the checkpoint of round 3 is written while round 4 runs (400 ms a task)
kill -9 "$(child $tpid)"
wait $tpid 2>/dev/null
timeout 120 "$COHORT" run --resume "$T/alsk" >/dev/null 2>"$T/alsk.err"
check "als resumed after round 3 (mid-iteration)" grep -q "resuming .* after round 3" "$T/alsk.err"
check "als resumed: model.pb as the uninterrupted run" cmp -s "$T/alsx1/model.pb" "$T/alsk/model.pb"

# the kNN config: the ALS keys of the example do not apply
knn="$T/knn.yaml"
printf 'name: cf-knn\nseed: 7\ndata:\n  train: %s/data/ratings_synthetic.csv\n  test_fraction: 0.2\nmodel:\n  algorithm: item_knn\n  rating_scale: [1, 5]\n' "$SRC" >"$knn"
runs iknn "$knn" --set model.shrinkage=20 --set model.block_mb=0.5
check "item_knn: several row blocks (rounds > 1)" awk -v r="$(grep -o '"rounds": [0-9]*' "$T/iknn1/summary.json" | sed 's/.*: //')" 'BEGIN { exit !(r > 1) }'
check "item_knn: recall@10 >= 0.2" awk -v r="$(metric "$T/iknn1/summary.json" test_recall_at_k)" 'BEGIN { exit !(r >= 0.2) }'
check "item_knn: similar_items.csv" grep -q "^item,rank,neighbour,similarity" "$T/iknn1/similar_items.csv"

runs uknn "$knn" --set model.algorithm=user_knn --set model.similarity=pearson --set model.prediction=baseline --set model.block_mb=2
check "user_knn: test RMSE" grep -q '"test_rmse"' "$T/uknn1/summary.json"

# own splits: leave-one-out and by time (the engine's random split off)
timeout 120 "$COHORT" run $exp --workers 2 --out "$T/loo" --set data.test_fraction=0 --set model.split=leave_k_out >/dev/null 2>&1
check "leave_k_out: holdout of 600 interactions (one per user)" grep -q '"holdout": {"split": "leave_k_out", "interactions": 600' "$T/loo/summary.json"
# trained on all but one interaction per user: a recommended pair found in
# the data can only be that user's held-out one
check "leave_k_out: recommendations exclude training items (<= 1 known pair per user)" awk -F, '
    NR == FNR { seen[$1 "," $2] = 1; next }
    FNR > 1 && (($1 "," $3) in seen) { if (++n[$1] > 1) bad = 1 }
    END { exit bad }' "$SRC/data/ratings_synthetic.csv" "$T/loo/recommendations.csv"
timeout 120 "$COHORT" run "$knn" --workers 2 --out "$T/time" --set data.test_fraction=0 --set model.split=time --set model.test_fraction=0.1 >/dev/null 2>&1
check "time split: 10% latest held out" grep -q '"holdout": {"split": "time", "interactions": 1201' "$T/time/summary.json"

# predict: a known pair and an unknown user (global mean)
printf 'user,item,rating,timestamp\n1,1,,0\n99999,1,,0\n' >"$T/q.csv" # predict needs every training column (rating may be empty)
timeout 60 "$COHORT" predict --model "$T/alsx1/model.pb" --data "$T/q.csv" --out "$T/pred.csv" 2>"$T/pred.err"
check "predict: two rows" [ "$(tail -n +2 "$T/pred.csv" | wc -l)" -eq 2 ]
check "predict: the unknown user gets the item's baseline (mean + item bias)" awk -F, 'NR == 3 { exit !($NF > 2 && $NF < 5) }' "$T/pred.csv"

# predict for chosen users (only the user column): their rows of
# recommendations.csv; an unknown user gets the popularity list (score 0)
printf 'user\n7\n1\n99999\n' >"$T/qu.csv"
timeout 60 "$COHORT" predict --model "$T/als1/model.pb" --data "$T/qu.csv" --out "$T/pu.csv" 2>"$T/pu.err"
{ head -1 "$T/als1/recommendations.csv"; grep '^7,' "$T/als1/recommendations.csv"; grep '^1,' "$T/als1/recommendations.csv"; } >"$T/pu.want"
check "predict users only: header and 30 rows" [ "$(wc -l <"$T/pu.csv")" -eq 31 ]
check "predict users only: users 7 and 1 as in recommendations.csv" cmp -s "$T/pu.want" <(head -21 "$T/pu.csv")
check "predict users only: unknown user gets 10 popular items, score 0" [ "$(grep -c '^99999,[0-9]*,[0-9]*,0$' "$T/pu.csv")" -eq 10 ]
# predict for chosen items (only the item column): their rows of
# similar_items.csv (item 290 is in the second block of 256 items)
printf 'item\n290\n5\n' >"$T/qi.csv"
for run in als1 iknn1; do
    timeout 60 "$COHORT" predict --model "$T/$run/model.pb" --data "$T/qi.csv" >"$T/pi.csv" 2>"$T/pi.err"
    { head -1 "$T/$run/similar_items.csv"; grep '^290,' "$T/$run/similar_items.csv"; grep '^5,' "$T/$run/similar_items.csv"; } >"$T/pi.want"
    check "predict items only ($run): as in similar_items.csv" cmp -s "$T/pi.want" "$T/pi.csv"
    check "predict items only ($run): 20 rows" [ "$(wc -l <"$T/pi.csv")" -eq 21 ]
done
expect_error "predict items only with user_knn" "user_knn keeps neighbours of users only" "$COHORT" predict --model "$T/uknn1/model.pb" --data "$T/qi.csv"
printf 'user,x\n1,a\n,b\n' >"$T/qm.csv"
expect_error "predict users only: a missing user names the row" "row 2 has no user" "$COHORT" predict --model "$T/als1/model.pb" --data "$T/qm.csv"

# k larger than the number of neighbours: documented (all available are used)
timeout 60 "$COHORT" run "$knn" --workers 1 --out "$T/bigk" --set model.k=5000 >/dev/null 2>&1
check "k larger than the neighbours: runs" grep -q '"status": "finished"' "$T/bigk/summary.json"

# bad input
printf 'user,item,rating\n1,1,5\n1,1,4\n2,1,3\n' >"$T/dup.csv"
expect_error "duplicates: error" "rated item '1' 2 times" "$COHORT" run $exp --workers 1 --out "$T/x" --set data.train="$T/dup.csv" --set model.duplicates=error --set data.test_fraction=0
expect_error "rating outside the scale" "outside model.rating_scale" "$COHORT" run $exp --workers 1 --out "$T/x" --set "model.rating_scale=[1, 4]"
expect_error "missing column" "no column 'stars'" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.rating_col=stars
expect_error "leave_k_out with the engine split" "set data.test_fraction: 0" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.split=leave_k_out
expect_error "keep below k" "must be at least model.k" "$COHORT" run "$knn" --workers 1 --out "$T/x" --set model.k=50 --set model.keep=10
expect_error "unknown similarity" "model.similarity" "$COHORT" run "$knn" --workers 1 --out "$T/x" --set model.similarity=euclid
# by-file silos: refused with a message naming the scheme (each silo would
# hold only some of a user's or an item's interactions)
head -n 2000 data/ratings_synthetic.csv >"$T/silo.csv"
timeout 60 "$COHORT" coordinator $exp --bind tcp://127.0.0.1:0 --workers 1 --set data.test_fraction=0 \
    --set partition.scheme=by-file --set runtime.heartbeat_timeout=2 --out "$T/bf" >/dev/null 2>"$T/bf.err" &
cpid=$!
wait_for "$T/bf/endpoints.json" 10
timeout 60 "$COHORT" worker --connect "$(endpoint "$T/bf")" --data "$T/silo.csv" >/dev/null 2>&1 &
wpid=$!
wait $cpid
rc=$?
wait $wpid 2>/dev/null
check "als by-file: the run stops with a non-zero exit" [ $rc -ne 0 ]
check "als by-file: the message names the scheme" grep -q "partition.scheme by-file is not supported" "$T/bf.err"

expect_error "regularization 0" "model.regularization must be > 0" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.regularization=0
finish
