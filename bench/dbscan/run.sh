#!/bin/bash
# run.sh: DBSCAN, cohort vs scikit-learn on 2-D blobs of increasing size, in
# the same run: wall time and peak resident memory (/usr/bin/time -v) of the
# whole process (data loading included, for both), medians of RUNS runs, the
# ratios, and a check that the labels are identical.
# usage: bench/dbscan/run.sh [BUILD_DIR] [SIZES...]  (from the repo root)
set -u
BUILD=${1:-build}
shift || true
SIZES=${*:-50000 200000 500000}
RUNS=${RUNS:-3}
EPS=${EPS:-0.05}
MS=${MS:-10}
WORKERS=${WORKERS:-1}
PY=/usr/bin/python3
OUT=bench/out/dbscan
mkdir -p "$OUT"
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# measure FILE CMD...: appends "seconds kbytes" of one run to FILE
measure() {
    local f=$1
    shift
    /usr/bin/time -v "$@" >"$OUT/last.out" 2>"$OUT/last.time" || { cat "$OUT/last.out" "$OUT/last.time"; exit 1; }
    local wall kb
    wall=$(grep "Elapsed (wall clock)" "$OUT/last.time" | awk '{print $NF}' | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
    kb=$(grep "Maximum resident set size" "$OUT/last.time" | awk '{print $NF}')
    echo "$wall $kb" >>"$f"
}
printf '| n | eps | cohort s (%s worker) | sklearn s | time ratio sklearn/cohort | cohort peak MB | sklearn peak MB | memory ratio sklearn/cohort | identical labels |\n' "$WORKERS"
printf '|---|---|---|---|---|---|---|---|---|\n'
for n in $SIZES; do
    data="$OUT/blobs_$n.csv"
    [ -s "$data" ] || $PY bench/dbscan/gen.py "$n" "$data"
    printf 'name: bench-dbscan\nseed: 1\ndata:\n  train: %s\n  test_fraction: 0\nmodel:\n  algorithm: dbscan\n  eps: %s\n  min_samples: %s\n  kdist_sample: 1000\nruntime:\n  tracking: false\n' "$PWD/$data" "$EPS" "$MS" >"$OUT/run_$n.yaml"
    rm -f "$OUT/c_$n" "$OUT/s_$n"
    for r in $(seq "$RUNS"); do
        measure "$OUT/c_$n" "$BUILD/cohort" run "$OUT/run_$n.yaml" --workers "$WORKERS" --out "$OUT/run_$n"
        measure "$OUT/s_$n" $PY bench/dbscan/sk.py "$data" "$EPS" "$MS" "$OUT/sk_labels_$n.csv"
    done
    ct=$(awk '{print $1}' "$OUT/c_$n" | median)
    st=$(awk '{print $1}' "$OUT/s_$n" | median)
    cm=$(awk '{print $2 / 1024}' "$OUT/c_$n" | median)
    sm=$(awk '{print $2 / 1024}' "$OUT/s_$n" | median)
    same=no
    cmp -s "$OUT/run_$n/labels.csv" "$OUT/sk_labels_$n.csv" && same=yes
    printf '| %s | %s | %.2f | %.2f | %.2f | %.0f | %.0f | %.1f | %s |\n' "$n" "$EPS" "$ct" "$st" \
        "$(echo "$st / $ct" | bc -l)" "$cm" "$sm" "$(echo "$sm / $cm" | bc -l)" "$same"
done
