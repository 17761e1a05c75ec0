#!/bin/sh
# run.sh: the cf benchmark (BENCHMARKS.md "## cf"): 100,000 users x 20,000
# items, about 5,000,000 generated interactions in 20 planted taste groups;
# ALS iteration time of cohort vs the same update in NumPy (interleaved,
# medians of 3) and vs the machine's dgemm rate; item_knn (2 runs); recall@10,
# the planted structure through `cohort predict`, peak memory.
# usage: bench/cf/run.sh [BUILD_DIR [USERS ITEMS PER_USER GROUPS ALS_RUNS KNN_RUNS]]
set -e
cd "$(dirname "$0")/../.."
B=${1:-build}
shift || true
if [ $# -eq 0 ]; then
    set -- 100000 20000 50 20 3 2
fi
/usr/bin/python3 bench/cf/bench_als.py "$B" "$@"
