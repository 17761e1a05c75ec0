#!/bin/bash
# run.sh: DBSCAN, cohort vs scikit-learn vs the R package dbscan, in the same
# run, on the issue's sets: moons, digits, and 1,000,000 generated blob
# points in 2 and 10 dimensions (blobs10: the 2-D set embedded in 10-D;
# blobs10g: full-dimensional 10-D Gaussian blobs, gen.py's mode full). For each program: wall time and peak
# resident memory of the whole process tree (peak.py: coordinator and
# workers summed for cohort), data loading included, medians of RUNS runs;
# the fit time alone for scikit-learn and R (as they print it) and cohort's
# run time (summary.json wall_seconds); and the agreement with
# scikit-learn's labels (compare.py: adjusted Rand index, identical noise
# set, identical core set, byte-identical row,cluster,core).
# usage: bench/dbscan/run.sh [BUILD_DIR] [SETS...]   (from the repo root)
# Every file goes to bench/out/dbscan (data, logs, labels, per-run figures).
#   SETS: moons digits blobs2 blobs10 blobs10g (default: all); RUNS=3 WORKERS=1
#   SK_RUNS=k (R_RUNS=k) runs scikit-learn (R) only in the first k of the
#   RUNS rounds (default RUNS); SKIP_SK=1 leaves it out (when it cannot finish)
set -u
BUILD=${1:-build}
shift || true
SETS=${*:-moons digits blobs2 blobs10 blobs10g}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-1}
N=${N:-1000000}
PY=/usr/bin/python3
OUT=bench/out/dbscan
mkdir -p "$OUT"
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# set NAME -> DATA EPS MIN_SAMPLES TARGET
params() {
    case $1 in
    moons) echo "$PWD/data/moons.csv 0.3 5 -" ;;
    digits) echo "$PWD/data/digits.csv 21 5 target" ;;
    blobs2) echo "$PWD/$OUT/blobs2_$N.csv 0.05 10 -" ;;
    blobs10) echo "$PWD/$OUT/blobs10_$N.csv 0.05 10 -" ;;
    blobs10g) echo "$PWD/$OUT/blobs10g_$N.csv 1.5 20 -" ;;
    esac
}
printf '| set | n x d | eps, min_samples | cohort s | sklearn s (fit) | R dbscan s (fit) | cohort run s | R/cohort time | cohort peak MB | sklearn peak MB | R peak MB | sklearn/cohort memory | cohort vs sklearn | R vs sklearn |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for s in $SETS; do
    read -r data eps ms target <<<"$(params "$s")"
    case $s in
    blobs2) [ -s "$data" ] || $PY bench/dbscan/gen.py "$N" "$data" 2 ;;
    blobs10) [ -s "$data" ] || $PY bench/dbscan/gen.py "$N" "$data" 10 ;;
    blobs10g) [ -s "$data" ] || $PY bench/dbscan/gen.py "$N" "$data" 10 full ;;
    esac
    tgt=()
    ylines=""
    if [ "$target" != - ]; then
        tgt=("$target")
        ylines="  target: $target\n"
    fi
    printf "name: bench-dbscan-$s\nseed: 1\ndata:\n  train: %s\n${ylines}  test_fraction: 0\nmodel:\n  algorithm: dbscan\n  eps: %s\n  min_samples: %s\nruntime:\n  tracking: false\n" "$data" "$eps" "$ms" >"$OUT/$s.yaml"
    rm -f "$OUT/c_$s" "$OUT/s_$s" "$OUT/r_$s" "$OUT/cw_$s" "$OUT/sf_$s" "$OUT/rf_$s"
    for r in $(seq "$RUNS"); do
        rm -rf "$OUT/run_$s"
        $PY bench/peak.py "$OUT/c_$s.log" "$BUILD/cohort" run "$OUT/$s.yaml" --workers "$WORKERS" --out "$OUT/run_$s" >>"$OUT/c_$s" || exit 1
        grep '"wall_seconds"' "$OUT/run_$s/summary.json" | sed 's/.*: //; s/,//' >>"$OUT/cw_$s"
        if [ -z "${SKIP_SK:-}" ] && [ "$r" -le "${SK_RUNS:-$RUNS}" ]; then
            $PY bench/peak.py "$OUT/s_$s.log" $PY bench/dbscan/sk.py "$data" "$eps" "$ms" "$OUT/sk_$s.csv" "${tgt[@]}" >>"$OUT/s_$s" || exit 1
            awk '{print $2}' "$OUT/s_$s.log" >>"$OUT/sf_$s"
        fi
        if [ "$r" -le "${R_RUNS:-$RUNS}" ]; then
            $PY bench/peak.py "$OUT/r_$s.log" Rscript bench/dbscan/r.R "$data" "$eps" "$ms" "$OUT/r_$s.csv" "${tgt[@]}" >>"$OUT/r_$s" || exit 1
            awk '{print $2}' "$OUT/r_$s.log" >>"$OUT/rf_$s"
        fi
    done
    ct=$(awk '{print $1}' "$OUT/c_$s" | median)
    cm=$(awk '{print $2 / 1024}' "$OUT/c_$s" | median)
    cw=$(median <"$OUT/cw_$s")
    rt=$(awk '{print $1}' "$OUT/r_$s" | median)
    rm_=$(awk '{print $2 / 1024}' "$OUT/r_$s" | median)
    rf=$(median <"$OUT/rf_$s")
    if [ -z "${SKIP_SK:-}" ]; then
        st=$(awk '{print $1}' "$OUT/s_$s" | median)
        sm=$(awk '{print $2 / 1024}' "$OUT/s_$s" | median)
        sf=$(median <"$OUT/sf_$s")
        cvs=$($PY bench/dbscan/compare.py "$OUT/sk_$s.csv" "$OUT/run_$s/assignments.csv")
        rvs=$($PY bench/dbscan/compare.py "$OUT/sk_$s.csv" "$OUT/r_$s.csv")
        skcol=$(printf '%.2f (%.2f)' "$st" "$sf")
        skm=$(printf '%.0f' "$sm")
        mr=$(printf '%.1f' "$(echo "$sm / $cm" | bc -l)")
    else
        skcol="not run"; skm="-"; mr="-"; cvs="-"
        rvs="R vs cohort: $($PY bench/dbscan/compare.py "$OUT/run_$s/assignments.csv" "$OUT/r_$s.csv")"
    fi
    nd=$(awk -F, 'NR == 1 {d = NF} END {print NR - 1 "x" d}' "$data")
    [ "$target" != - ] && nd="$nd (target dropped)"
    printf '| %s | %s | %s, %s | %.2f | %s | %.2f (%.2f) | %.2f | %.2f | %.0f | %s | %.0f | %s | %s | %s |\n' "$s" "$nd" "$eps" "$ms" \
        "$ct" "$skcol" "$rt" "$rf" "$cw" "$(echo "$rt / $ct" | bc -l)" "$cm" "$skm" "$rm_" "$mr" "$cvs" "$rvs"
done
