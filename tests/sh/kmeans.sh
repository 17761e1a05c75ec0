# kmeans.sh: k-means and hierarchical clustering end to end: the same model
# for 1, 2 and 4 workers (summary.json without run id, worker count and wall
# time, which holds every centroid to 17 digits, inertia, silhouette and
# sizes), Elkan's model equal to Lloyd's (and model.pb the same bytes for 1
# and 2 workers), scikit-learn's Lloyd result reproduced through a real run, the
# linkage file, cohort predict (nearest centroid, adjusted Rand index), and
# the bad inputs of issue 12.
. "$(dirname "$0")/lib.sh"

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
# stable SUMMARY: summary.json without the lines that may differ between runs
stable() { grep -v -e '"run_id"' -e '"workers"' -e '"wall_seconds"' "$1"; }
# same_for_workers NAME CONFIG [--set ...]: runs with 1, 2, 4 workers, compares
same_for_workers() {
    local name=$1 cfg=$2
    shift 2
    local w
    for w in 1 2 4; do
        if ! timeout 120 "$COHORT" run "$cfg" --workers $w --out "$T/$name-$w" "$@" >"$T/$name-$w.log" 2>&1; then
            bad "$name: run with $w workers failed"; cat "$T/$name-$w.log"; return
        fi
    done
    if stable "$T/$name-1/summary.json" >"$T/a" && stable "$T/$name-2/summary.json" >"$T/b" &&
        stable "$T/$name-4/summary.json" >"$T/c" && cmp -s "$T/a" "$T/b" && cmp -s "$T/a" "$T/c"; then
        ok "$name: identical model for 1, 2 and 4 workers"
    else
        bad "$name: results differ between worker counts"; diff "$T/a" "$T/c" | head -5
    fi
}
num() { grep -o "\"$2\": [^,}]*" "$1" | head -n 1 | sed 's/.*: //'; }

same_for_workers kmeanspp examples/kmeans.yaml
same_for_workers kmeanspar examples/kmeans.yaml --set "model.init=k-means||" --set model.n_init=2
same_for_workers minibatch examples/kmeans.yaml --set model.method=minibatch \
    --set model.batch_size=40 --set model.max_iter=20 --set model.dtype=float32
same_for_workers elkan examples/kmeans.yaml --set model.method=elkan
check "elkan: model.pb is the same bytes for 1 and 2 workers" cmp -s "$T/elkan-1/model.pb" "$T/elkan-2/model.pb"
check "elkan gives Lloyd's model (k-means++, 4 restarts on wine)" \
    eval 'stable "$T/elkan-1/summary.json" >"$T/a" && stable "$T/kmeanspp-1/summary.json" >"$T/b" && cmp -s "$T/a" "$T/b"'
same_for_workers silsample examples/kmeans.yaml --set model.silhouette_max_rows=60 --set model.n_init=1
same_for_workers ward examples/hierarchical.yaml
same_for_workers single examples/hierarchical.yaml --set model.linkage=single --set model.n_clusters=4

# the k-means++ run finds the wine cultivars (ARI > 0.85) and reports the metrics
check "kmeans summary has inertia, silhouette, davies_bouldin" \
    grep -q '"davies_bouldin": [0-9]' "$T/kmeanspp-1/summary.json"
check "kmeans and ward: summary.json metrics hold inertia and silhouette" \
    eval 'grep -q "\"metrics\": {\"inertia\": [0-9.e]*, \"silhouette\": 0\." "$T/kmeanspp-1/summary.json" &&
        grep -q "\"metrics\": {\"inertia\": [0-9.e]*, \"silhouette\": 0\." "$T/ward-1/summary.json"'
ari=$(num "$T/kmeanspp-1/summary.json" adjusted_rand)
check "kmeans recovers the wine cultivars (ARI $ari > 0.85)" awk -v a="$ari" 'BEGIN { exit !(a > 0.85) }'
check "kmeans report has the clusters section and inertia curve" \
    grep -q "Inertia per iteration" "$T/kmeanspp-1/report.html"
check "hierarchical report has a dendrogram" grep -q "merge distance" "$T/ward-1/report.html"

# scikit-learn 1.2.1, KMeans(3, init=X[[0, 50, 100]], n_init=1, algorithm="lloyd",
# tol=0, max_iter=100) on the raw iris features: inertia 78.851441426146 (1e-10 relative)
printf 'a,b,c,d\n5.1,3.5,1.4,0.2\n7.0,3.2,4.7,1.4\n6.3,3.3,6.0,2.5\n' >"$T/init.csv"
cat >"$T/iris.yaml" <<YAML
name: iris-given
data: {train: $SRC/data/iris.csv, target: target, test_fraction: 0}
model: {algorithm: kmeans, k: 3, init: given, init_centroids: $T/init.csv, standardize: false,
        tol: 0, max_iter: 100}
YAML
same_for_workers given "$T/iris.yaml"
inertia=$(num "$T/given-1/summary.json" inertia)
check "given-centroid Lloyd matches scikit-learn's inertia ($inertia)" \
    awk -v a="$inertia" 'BEGIN { d = a - 78.851441426146; if (d < 0) d = -d; exit !(d <= 78.85e-10) }'
same_for_workers given-elkan "$T/iris.yaml" --set model.method=elkan
inertia=$(num "$T/given-elkan-1/summary.json" inertia)
check "given-centroid Elkan matches scikit-learn's inertia ($inertia)" \
    awk -v a="$inertia" 'BEGIN { d = a - 78.851441426146; if (d < 0) d = -d; exit !(d <= 78.85e-10) }'
# a worker killed during the Elkan rounds: its shard moves to a worker that
# has no bounds for those blocks and rebuilds them; the model is unchanged
COHORT_TEST_TASK_DELAY_MS=250 timeout 60 "$COHORT" run "$T/iris.yaml" --workers 3 \
    --set model.method=elkan --set runtime.heartbeat_timeout=2 --out "$T/ekill" \
    >/dev/null 2>"$T/ekill.err" &
cpid=$!
sleep 1.5
victim=$(child "$(child $cpid)")
[ -n "$victim" ] && kill -9 "$victim"
wait $cpid
check "elkan: a worker killed mid-run, its shard reassigned" \
    grep -q '"topic": "worker.reassigned"' "$T/ekill/events.jsonl"
check "elkan: the model after the kill is the one of 1 worker" \
    eval 'stable "$T/given-elkan-1/summary.json" >"$T/a" && stable "$T/ekill/summary.json" >"$T/b" && cmp -s "$T/a" "$T/b"'
# an empty cluster at once (a centroid far from every row): Elkan hands that
# iteration to a Lloyd round (farthest points), and ends where Lloyd does
# (one round more: the Elkan round that found the empty cluster)
printf 'a,b,c,d\n5.1,3.5,1.4,0.2\n7.0,3.2,4.7,1.4\n100,100,100,100\n' >"$T/init-far.csv"
for m in lloyd elkan; do
    timeout 60 "$COHORT" run "$T/iris.yaml" --workers 2 --out "$T/far-$m" --set model.method=$m \
        --set model.init_centroids="$T/init-far.csv" >"$T/far-$m.log" 2>&1
done
check "elkan with an empty cluster: Lloyd's model (scikit-learn's inertia 78.85566582597731)" \
    eval 'stable "$T/far-lloyd/summary.json" | grep -v "\"rounds\"" >"$T/a" &&
        stable "$T/far-elkan/summary.json" | grep -v "\"rounds\"" >"$T/b" &&
        cmp -s "$T/a" "$T/b" && grep -q "\"inertia\": 78.8556658259" "$T/a"'
check "elkan reported the empty cluster" grep -q "empty_clusters" "$T/far-elkan/events.jsonl"
# whole-number rows (iris x 10): the workers read Elkan's single distances
# from an exact float copy; the model stays Lloyd's, for 1 and 2 workers
awk -F, -v OFS=, 'NR == 1 { print; next } { print $1 * 10, $2 * 10, $3 * 10, $4 * 10, $5 }' \
    data/iris.csv >"$T/iris10.csv"
for m in lloyd-1 elkan-1 elkan-2; do
    timeout 60 "$COHORT" run examples/kmeans.yaml --workers "${m#*-}" --out "$T/i10-$m" \
        --set data.train="$T/iris10.csv" --set model.standardize=false \
        --set model.method="${m%-*}" >"$T/i10-$m.log" 2>&1
done
check "elkan on whole-number rows (float copy): Lloyd's model, 1 and 2 workers alike" \
    eval 'stable "$T/i10-lloyd-1/summary.json" >"$T/a" && stable "$T/i10-elkan-1/summary.json" >"$T/b" &&
        stable "$T/i10-elkan-2/summary.json" >"$T/c" && cmp -s "$T/a" "$T/b" && cmp -s "$T/a" "$T/c" &&
        grep -q "\"inertia\": [0-9]" "$T/a"'
sil=$(num "$T/given-1/summary.json" silhouette)
check "silhouette matches scikit-learn's silhouette_score 0.5528190123564095 ($sil)" \
    awk -v a="$sil" 'BEGIN { d = a - 0.5528190123564095; if (d < 0) d = -d; exit !(d <= 1e-6) }'

# the silhouette plot (report.html): its bars count every scored row once
# (150 iris rows, 178 wine rows), and the rows' mean over the bars' middles is the
# silhouette to half a bin (0.025)
silplot() { # silplot RUN: prints "rows binned-mean" from the plot's bar titles
    grep -o 'cluster [0-9]*: [0-9]* rows with silhouette in \[[-0-9.]*, [-0-9.]*)' "$1/report.html" |
        sed 's/.*: \([0-9]*\) rows.*\[\([-0-9.]*\), \([-0-9.]*\))/\1 \2 \3/' |
        awk '{ n += $1; s += $1 * ($2 + $3) / 2 } END { if (n) printf "%d %.6f\n", n, s / n }'
}
for run in given-1:150 ward-1:178; do
    rows=${run#*:} run=${run%:*}
    set -- $(silplot "$T/$run")
    sil=$(num "$T/$run/summary.json" silhouette)
    check "$run: the silhouette plot counts the $rows rows (${1:-none}) around the silhouette ($sil vs ${2:-none})" \
        awk -v n="${1:-0}" -v m="${2:-9}" -v s="$sil" -v r="$rows" 'BEGIN { d = m - s; if (d < 0) d = -d; exit !(n == r && d <= 0.025) }'
done

# the linkage file: n-1 rows of 4 numbers, SciPy's last merge of ward on wine
timeout 60 "$COHORT" run examples/hierarchical.yaml --workers 2 --out "$T/lk" \
    --set model.linkage_csv="$T/linkage.csv" >/dev/null 2>&1
check "linkage.csv has n-1 = 177 rows" test "$(wc -l <"$T/linkage.csv")" = 177
check "linkage.csv ends with SciPy's last ward merge" grep -q '^351,353,35.4015338313474' "$T/linkage.csv"
# scikit-learn 1.2.1 silhouette_score of that cut, on the standardised wine
# features (StandardScaler; the labels of SciPy's fcluster(linkage(Z,
# "ward"), 3, "maxclust")): 0.2774439826952266; cohort reads it from the
# kept condensed matrix (rows <= 4096)
sil=$(num "$T/ward-1/summary.json" silhouette)
check "ward silhouette matches scikit-learn's silhouette_score 0.2774439826952266 ($sil)" \
    awk -v a="$sil" 'BEGIN { d = a - 0.2774439826952266; if (d < 0) d = -d; exit !(d <= 1e-6) }'

# bad input
cat >"$T/iris200.yaml" <<YAML
name: iris-200
data: {train: $SRC/data/iris.csv, target: target, test_fraction: 0}
model: {algorithm: kmeans, k: 200}
YAML
expect_error "k larger than the rows" "larger than the 150 complete training rows" \
    "$COHORT" run "$T/iris200.yaml" --workers 1
printf 'x,y\n1,1\n1,1\n2,2\n2,2\n1,1\n2,2\n' >"$T/dup.csv"
cat >"$T/dup.yaml" <<YAML
name: dup
data: {train: $T/dup.csv, test_fraction: 0}
model: {algorithm: kmeans, k: 3}
YAML
expect_error "k larger than the distinct points" "larger than the number of distinct points" \
    "$COHORT" run "$T/dup.yaml" --workers 1
expect_error "init given with the wrong shape" "k = 4 centroids" \
    "$COHORT" run "$T/iris.yaml" --workers 1 --set model.k=4
expect_error "a misspelt model.method" "model.method: expected one of lloyd, minibatch, elkan; got 'elken'" \
    "$COHORT" run examples/kmeans.yaml --workers 1 --set model.method=elken
expect_error "elkan with k above its limit" "model.method elkan keeps k lower bounds per row and is limited to k <= 1024" \
    "$COHORT" run examples/kmeans.yaml --workers 1 --set model.method=elkan --set model.k=2000
expect_error "categorical features are refused" "is categorical" \
    "$COHORT" run examples/kmeans.yaml --workers 1 --set data.train=$SRC/data/churn.csv \
    --set data.target=churn
expect_error "n_clusters and distance_threshold together" "not both" \
    "$COHORT" run examples/hierarchical.yaml --workers 1 --set model.distance_threshold=3
cat >"$T/hc.yaml" <<YAML
name: hc
data: {train: $SRC/data/wine.csv, target: target, test_fraction: 0}
model: {algorithm: hierarchical, distance_threshold: 0.001}
YAML
expect_error "a distance_threshold with no merges" "below the smallest merge distance" \
    "$COHORT" run "$T/hc.yaml" --workers 1
expect_error "too many rows for the distance matrix" "model.max_rows is 100" \
    "$COHORT" run examples/hierarchical.yaml --workers 1 --set model.max_rows=100

# cohort predict: the nearest centroid of each row; on the training rows it
# reproduces the run's clusters, so the adjusted Rand index against the
# wine classes equals the one in summary.json
timeout 60 "$COHORT" predict --model "$T/kmeanspp-2/model.pb" --data data/wine.csv \
    --out "$T/kpred.csv" 2>"$T/kpred.err"
check "kmeans predict writes a cluster column, one row per input row" \
    awk -F, 'NR == 1 { bad = $0 != "cluster" } NR > 1 && !($1 ~ /^[012]$/) { bad = 1 } END { exit bad || NR != 179 }' "$T/kpred.csv"
ari=$(grep -o '"adjusted_rand": [0-9.e-]*' "$T/kmeanspp-2/summary.json" | head -n 1 | sed 's/.*: //')
check "kmeans predict's adjusted Rand index equals the run's ($ari)" \
    grep -q "\"adjusted_rand\": $ari}" "$T/kpred.err"
check "kmeans assignments.csv holds every row's cluster, as predict gives it" \
    cmp -s <(cut -d, -f2 "$T/kmeanspp-2/assignments.csv" | tail -n +2) <(tail -n +2 "$T/kpred.csv")
check "hierarchical assignments.csv: 178 rows in the 3 clusters of the cut" \
    awk -F, 'NR > 1 { n++; if (!($2 ~ /^[012]$/)) bad = 1 } END { exit bad || n != 178 }' "$T/ward-2/assignments.csv"
check "DIR/linkage.csv: 177 merges in SciPy's format, the last joining all 178 rows" \
    awk -F, '{ n++; last = $4 } END { exit !(n == 177 && last == 178) }' "$T/ward-2/linkage.csv"
timeout 60 "$COHORT" predict --model "$T/ward-2/model.pb" --data data/wine.csv \
    --out "$T/hpred.csv" 2>"$T/hpred.err"
check "hierarchical predict assigns every row to one of its 3 clusters" \
    awk -F, 'NR == 1 { bad = $0 != "cluster" } NR > 1 && !($1 ~ /^[012]$/) { bad = 1 } END { exit bad || NR != 179 }' "$T/hpred.csv"
check "hierarchical predict reports its agreement with the classes" grep -q '"adjusted_rand": 0\.[0-9]' "$T/hpred.err"

# rows with a missing value are skipped and counted
(head -n 20 data/iris.csv; echo "5.0,,1.4,0.2,setosa"; sed -n '21,151p' data/iris.csv) >"$T/nan.csv"
cat >"$T/nan.yaml" <<YAML
name: nan
data: {train: $T/nan.csv, target: target, test_fraction: 0}
model: {algorithm: kmeans, k: 3}
YAML
timeout 60 "$COHORT" run "$T/nan.yaml" --workers 2 --out "$T/nan" >/dev/null 2>&1
check "a NaN row is skipped and counted" grep -q '"rows": 150, "rows_skipped": 1' "$T/nan/summary.json"

# DIR/centroids.csv: a header of the feature names, k rows, the summary's centroids
c1=$(sed -n 2p "$T/kmeanspp-1/centroids.csv" | cut -d, -f2)
s1=$(grep -o '"centroids": \[\[[^,]*' "$T/kmeanspp-1/summary.json" | sed 's/.*\[//')
check "centroids.csv: header, 3 clusters, the summary's first value ($c1 = $s1)" \
    eval 'head -n 1 "$T/kmeanspp-1/centroids.csv" | grep -q "^cluster,alcohol,malic_acid," &&
          [ "$(wc -l <"$T/kmeanspp-1/centroids.csv")" -eq 4 ] &&
          awk -v a="$c1" -v b="$s1" "BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != \"\" && d <= 1e-12 * (b < 0 ? -b : b)) }"'

# the elbow and silhouette sweep over k in one run (examples/kmeans-sweep.yaml)
timeout 300 "$COHORT" run examples/kmeans-sweep.yaml --out "$T/ks" >"$T/ks.out" 2>&1
check "k sweep: 7 trials, the best silhouette at k = 3 (wine's three cultivars)" \
    eval 'grep -q "7 of 7 trials finished" "$T/ks.out" && grep -qE "^ \* +1 +t001 .* model.k=3" "$T/ks.out"'
check "k sweep: index.html draws the metrics against model.k" \
    eval '[ "$(grep -o "Metrics against model.k" "$T/ks/index.html" | wc -l)" -ge 1 ] &&
          [ "$(grep -o "<svg" "$T/ks/index.html" | wc -l)" -ge 3 ]'
i2=$(num "$T/ks/trial-000/summary.json" inertia)
i8=$(num "$T/ks/trial-006/summary.json" inertia)
check "k sweep: inertia falls from k = 2 ($i2) to k = 8 ($i8)" awk -v a="$i2" -v b="$i8" 'BEGIN { exit !(b < a) }'
check "no local worker left behind" no_orphan_workers
finish
