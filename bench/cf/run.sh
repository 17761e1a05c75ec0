#!/bin/sh
# run.sh: the cf benchmark (BENCHMARKS.md "## cf"): ALS iteration time of cohort
# vs the same update in NumPy on ~1M generated ratings, interleaved, medians of 3.
# usage: bench/cf/run.sh [BUILD_DIR]
set -e
cd "$(dirname "$0")/../.."
B=${1:-build}
/usr/bin/python3 bench/cf/bench_als.py "$B" 20000 2000 50 10 3
