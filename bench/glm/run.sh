#!/usr/bin/env bash
# bench/glm/run.sh: logistic regression on a generated 1,000,000 x P table
# (P = 20 unless --cols; the issue's size is --cols 50): cohort (2 workers)
# against scikit-learn newton-cholesky and R's glm, in the same run, medians
# of 3 repetitions. Prints the JSON the BENCHMARKS.md section quotes.
# usage: bench/glm/run.sh [--build-dir DIR] [--cols P] [--reps N] [--no-r] [--r-read-csv]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build-bench
cols=20
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build="$2"; shift ;;
    --cols) cols="$2"; shift ;;
    *) args+=("$1") ;;
    esac
    shift
done
mkdir -p bench/out
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target cohort >/dev/null
csv=bench/out/logit_1m_$cols.csv
[ -s "$csv" ] || /usr/bin/python3 bench/glm/gen_logistic.py "$csv" 1000000 "$cols"
/usr/bin/python3 bench/glm/bench_logistic.py --cohort "$build/cohort" \
    --config bench/glm/logistic.yaml --csv "$csv" --workers 2 "${args[@]}"
