#!/bin/sh
# run.sh [BUILD_DIR] [ROWS]: isolation forest benchmark, cohort vs
# scikit-learn IsolationForest(n_jobs=2) on a generated table with 1%
# planted anomalies (gen.py), 100 trees, max_samples 256, three runs each,
# medians and ratios. cohort's time is its whole run (CSV parse by the
# coordinator and both workers, growing, sharded scoring of the training
# rows, scoring of the 20% held-out rows, outputs): summary.json
# wall_seconds. scikit-learn's is fit + score_samples of all rows on the
# array already in memory (its CSV read is printed apart).
set -eu
B=${1:-build}
N=${2:-1000000}
D=${TMPDIR:-/tmp}/iforest_bench
mkdir -p "$D"
[ -s "$D/data_$N.csv" ] || /usr/bin/python3 bench/isolation_forest/gen.py "$N" "$D/data_$N.csv"
cat >"$D/exp.yaml" <<EOY
name: iforest-bench
seed: 1
workers: 2
data:
  train: $D/data_$N.csv
  target: anomaly
  positive: "yes"
  test_fraction: 0.2
model:
  algorithm: isolation_forest
  n_trees: 100
  max_samples: 256
EOY
: >"$D/cohort.txt"
: >"$D/peer.txt"
for s in 1 2 3; do
    "$B/cohort" run "$D/exp.yaml" --workers 2 --set seed=$s --out "$D/run$s" >/dev/null 2>&1
    # the first match of each (summary.json has auc in "metrics" and again
    # in the anomaly report's keys)
    w=$(grep -o '"wall_seconds": [0-9.]*' "$D/run$s/summary.json" | head -n 1 | sed 's/.*: //')
    r1=$(grep -o '"round": 1, "seconds": [0-9.]*' "$D/run$s/events.jsonl" | head -n 1 | sed 's/.*: //')
    a=$(grep -o '"auc": [0-9.]*' "$D/run$s/summary.json" | head -n 1 | sed 's/.*: //')
    echo "$w $r1 $a" >>"$D/cohort.txt"
    /usr/bin/python3 bench/isolation_forest/peer.py "$D/data_$N.csv" $s | awk '{print $4, $2, $6}' >>"$D/peer.txt"
done
med() { sort -n | sed -n 2p; }
cw=$(cut -d' ' -f1 "$D/cohort.txt" | med)
cr=$(cut -d' ' -f2 "$D/cohort.txt" | med)
ca=$(cut -d' ' -f3 "$D/cohort.txt" | med)
pw=$(cut -d' ' -f1 "$D/peer.txt" | med)
pr=$(cut -d' ' -f2 "$D/peer.txt" | med)
pa=$(cut -d' ' -f3 "$D/peer.txt" | med)
echo "rows $N; runs (cohort wall, scoring round, held-out AUC):"; cat "$D/cohort.txt"
echo "runs (sklearn fit+score, csv read, AUC on all rows):"; cat "$D/peer.txt"
echo "median cohort whole run ${cw}s (sharded scoring round ${cr}s), AUC $ca"
echo "median sklearn fit+score ${pw}s (csv read ${pr}s apart), AUC $pa"
awk -v c="$cw" -v p="$pw" 'BEGIN { printf "ratio cohort / sklearn: %.3f\n", c / p }'
