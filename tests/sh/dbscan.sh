# dbscan.sh: DBSCAN through `cohort run`: scikit-learn's labels on moons and digits
# (stored below), its silhouette and Davies-Bouldin index, byte-identical
# assignments.csv and cluster keys for 1, 2 and 4
# workers on moons and on 20000 generated blobs, predict with the saved
# model, the report sections, and bad configurations and data giving clear
# errors.
. "$(dirname "$0")/lib.sh"
exp=examples/dbscan.yaml
BUILD=${COHORT_BUILD:?COHORT_BUILD is set by ctest}

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
keys() { grep -E '"(n_clusters|n_noise|n_core|noise_fraction|cluster_sizes|kdist_knee|silhouette|silhouette_rows|davies_bouldin)"' "$1"; }

for w in 1 2 4; do
    timeout 60 "$COHORT" run $exp --workers $w --out "$T/m$w" >/dev/null 2>"$T/m$w.err"
    check "moons, $w workers: finishes" grep -q '"status": "finished"' "$T/m$w/summary.json"
done
for w in 2 4; do
    check "moons, $w workers: assignments.csv identical to 1 worker" cmp -s "$T/m1/assignments.csv" "$T/m$w/assignments.csv"
    check "moons, $w workers: cluster keys identical" cmp -s <(keys "$T/m1/summary.json") <(keys "$T/m$w/summary.json")
done
# scikit-learn 1.2.1: DBSCAN(eps=0.3, min_samples=5).fit(moons).labels_ (exact, no tolerance)
sk="1,2,0,0,0,1,0,1,3,2,1,0,3,-1,0,2,0,2,0,0,0,3,2,1,2,0,4,-1,1,2,1,1,0,3,1,4,0,2,1,3,4,4,0,4,2,4,-1,4,-1,2,5,5,6,6,6,6,6,5,5,6,5,5,5,6,6,5,6,6,6,5,6,6,5,-1,-1,6,5,6,-1,5,6,5,5,6,6,5,5,6,-1,5,6,5,5,5,6,6,6,5,6,6"
check "moons: labels are scikit-learn's" [ "$(tail -n +2 "$T/m2/assignments.csv" | cut -d, -f2 | paste -sd,)" = "$sk" ]
check "moons: 59 core points (scikit-learn)" [ "$(tail -n +2 "$T/m2/assignments.csv" | cut -d, -f3 | grep -c 1)" -eq 59 ]
check "moons: 7 clusters, 8 noise in summary.json" grep -q '"n_clusters": 7,' "$T/m2/summary.json"
check "moons: noise fraction" grep -q '"noise_fraction": 0.08' "$T/m2/summary.json"
check "moons: summary.json metrics hold n_clusters, noise_fraction, silhouette" \
    grep -q '"metrics": {"n_clusters": 7, "noise_fraction": 0.08, "silhouette": 0.6083' "$T/m2/summary.json"
check "assignments.csv header" [ "$(head -1 "$T/m2/assignments.csv")" = "row,cluster,core" ]
# scikit-learn 1.2.1 on the same labels, noise left out: silhouette_score
# 0.6083019918667724, davies_bouldin_score 0.5354850311507804 (to 1e-9 here)
near() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }'; }
jnum() { grep -o "\"$1\": [^,}]*" "$2" | head -n 1 | sed 's/.*: //'; }
check "moons: silhouette is scikit-learn's" near "$(jnum silhouette "$T/m2/summary.json")" 0.6083019918667724
check "moons: Davies-Bouldin is scikit-learn's" near "$(jnum davies_bouldin "$T/m2/summary.json")" 0.5354850311507804
check "report: silhouette and Davies-Bouldin" grep -q "Davies-Bouldin" "$T/m2/report.html"
check "model.txt: silhouette" grep -q "silhouette 0.608302" "$T/m2/model.txt"
check "report: cluster section" grep -q "DBSCAN clusters" "$T/m2/report.html"
check "report: k-distance chart with the knee marked" grep -q 'data-name="knee"' "$T/m2/report.html"
check "report: scatter coloured by cluster (7 clusters and noise)" [ "$(grep -o 'data-name="cluster [0-9]*"\|data-name="noise"' "$T/m2/report.html" | sort -u | wc -l)" -eq 8 ]
check "model.txt: cluster table" grep -q "7 clusters, 59 core" "$T/m2/model.txt"

# predict: core points get their own cluster back
timeout 60 "$COHORT" predict --model "$T/m2/model.pb" --data data/moons.csv --out "$T/pred.csv" 2>/dev/null
check "predict: core points keep their label" [ "$(paste -d, <(tail -n +2 "$T/m2/assignments.csv") <(tail -n +2 "$T/pred.csv") | awk -F, '$3 == 1 && $2 != $4' | wc -l)" -eq 0 ]
check "predict: noise is -1" grep -qx -- "-1" "$T/pred.csv"

# 20000 blobs with noise: scikit-learn gives 5 clusters, 2390 noise, 17175 core (test_dbscan.c)
"$BUILD/test_dbscan" --dump-blobs >"$T/blobs.csv"
printf 'name: blobs\nseed: 1\ndata:\n  train: %s/blobs.csv\n  test_fraction: 0\nmodel:\n  algorithm: dbscan\n  eps: 0.15\n  min_samples: 10\n' "$T" >"$T/blobs.yaml"
for w in 1 2 4; do
    timeout 120 "$COHORT" run "$T/blobs.yaml" --workers $w --out "$T/b$w" >/dev/null 2>"$T/b$w.err"
    check "blobs, $w workers: finishes" grep -q '"status": "finished"' "$T/b$w/summary.json"
done
check "blobs: scikit-learn's counts" grep -q '"n_clusters": 5,.*' "$T/b1/summary.json"
check "blobs: 2390 noise" grep -q '"n_noise": 2390,' "$T/b1/summary.json"
check "blobs: 17175 core" grep -q '"n_core": 17175,' "$T/b1/summary.json"
# 17610 clustered points > silhouette_max_rows 10000: the even sample
# (test_dbscan.c checks its value against scikit-learn's on the same rows)
check "blobs: silhouette over a sample of 10000" grep -q '"silhouette_rows": 10000,' "$T/b1/summary.json"
check "blobs: silhouette of the sample" near "$(jnum silhouette "$T/b1/summary.json")" 0.8194621717078384
for w in 2 4; do
    check "blobs, $w workers: cluster keys identical" cmp -s <(keys "$T/b1/summary.json") <(keys "$T/b$w/summary.json")
done
for w in 2 4; do
    check "blobs, $w workers: assignments.csv identical to 1 worker" cmp -s "$T/b1/assignments.csv" "$T/b$w/assignments.csv"
done

# digits (1797 x 64, the blocked BLAS path): scikit-learn 1.2.1
# DBSCAN(eps=21, min_samples=5) on every column but target: 22 clusters,
# 321 noise, 1137 core; md5 of its row,cluster,core lines (header left out)
# ef37d0012047432287db09daa6c4b686; silhouette_score 0.16285902456916518,
# davies_bouldin_score 1.4924902141637895 on the non-noise points
timeout 60 "$COHORT" run $exp --workers 2 --out "$T/d" --set data.train="$PWD/data/digits.csv" \
    --set data.target=target --set model.eps=21 >/dev/null 2>"$T/d.err"
check "digits: finishes" grep -q '"status": "finished"' "$T/d/summary.json"
check "digits: assignments.csv is scikit-learn's" [ "$(tail -n +2 "$T/d/assignments.csv" | md5sum | cut -d' ' -f1)" = ef37d0012047432287db09daa6c4b686 ]
check "digits: silhouette is scikit-learn's" near "$(jnum silhouette "$T/d/summary.json")" 0.16285902456916518
check "digits: Davies-Bouldin is scikit-learn's" near "$(jnum davies_bouldin "$T/d/summary.json")" 1.4924902141637895

# bad input
expect_error "eps 0" "model.eps must be a positive number" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.eps=0
expect_error "eps negative" "model.eps must be a positive number" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.eps=-1
expect_error "min_samples 0" "model.min_samples must be a whole number" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.min_samples=0
expect_error "min_samples 2.5" "model.min_samples must be a whole number" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.min_samples=2.5
expect_error "silhouette_max_rows too large" "model.silhouette_max_rows" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.silhouette_max_rows=2000000
expect_error "unknown metric" "model.metric" "$COHORT" run $exp --workers 1 --out "$T/x" --set model.metric=chebyshev
printf 'x,y\n0,1\n1,NA\n2,2\n' >"$T/nan.csv"
expect_error "NaN coordinate" "row 2 of" "$COHORT" run $exp --workers 1 --out "$T/x" --set data.train="$T/nan.csv"
printf 'x,y\n0,1\n' >"$T/one.csv"
expect_error "a single point" "at least two points" "$COHORT" run $exp --workers 1 --out "$T/x" --set data.train="$T/one.csv"
printf 'x,c\n0,a\n1,b\n2,a\n' >"$T/cat.csv"
expect_error "categorical column" "column 'c' is categorical" "$COHORT" run $exp --workers 1 --out "$T/x" --set data.train="$T/cat.csv"
finish
