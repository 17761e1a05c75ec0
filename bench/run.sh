#!/usr/bin/env bash
# bench/run.sh: builds what the benchmarks need, runs them (OLS against numpy,
# the wire layer against memcpy), prints the results table and, with --write,
# replaces the generated section of BENCHMARKS.md. About 2-3 minutes on 2 cores.
#
# usage: bench/run.sh [--write] [--reps N] [--build-dir DIR]
set -euo pipefail

cd "$(dirname "$0")/.."
write=0
reps=5
build=build-bench
while [ $# -gt 0 ]; do
    case "$1" in
    --write) write=1 ;;
    --reps) reps="$2"; shift ;;
    --build-dir) build="$2"; shift ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$reps" -lt 5 ] 2>/dev/null; then
    echo "bench/run.sh: note: --reps $reps is below the 5 the results need" >&2
fi

py=/usr/bin/python3 # Debian's python with python3-numpy, not a pyenv one
out=bench/out
mkdir -p "$out"

echo "== build ($build, Release)" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target cohort >/dev/null
if cmake --build "$build" --target help | grep -w bench_wire >/dev/null; then
    cmake --build "$build" -j2 --target bench_wire >/dev/null
    wire="$build/bench/bench_wire"
else
    # bench/CMakeLists.txt not included by the top-level build yet: link the
    # same way the CMake target does, against the library just built
    wire="$out/bench_wire"
    cc -O3 -DNDEBUG -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror \
        -I. -I"$build" -I"$build/proto" bench/bench_wire.c -o "$wire" \
        "$build/libcohort_core.a" "$build/libcohort_proto.a" \
        $(pkg-config --libs libzmq libprotobuf-c) -pthread
fi

csv="$out/ols_1m_50.csv"
if [ ! -s "$csv" ]; then
    echo "== generate $csv" >&2
    "$py" bench/gen_ols.py "$csv"
fi

echo "== wire: $wire, 5 runs" >&2
rm -f "$out"/wire-*.json
for i in 1 2 3 4 5; do
    "$wire" --json --reps 21 >"$out/wire-$i.json"
done

echo "== OLS: cohort vs numpy, $reps repetitions" >&2
"$py" bench/bench_ols.py --cohort "$build/cohort" --config bench/ols.yaml --csv "$csv" \
    --workers 2 --reps "$reps" --work "$out" --json "$out/ols.json"

echo >&2
if [ "$write" = 1 ]; then
    "$py" bench/report.py "$out/ols.json" "$out"/wire-*.json --write BENCHMARKS.md
else
    "$py" bench/report.py "$out/ols.json" "$out"/wire-*.json
fi
