#!/usr/bin/env bash
# bench/platform/run.sh: the experiment-platform benchmarks (issue 3): metric
# logging rate into the tracking store (1 and 4 writer processes, single and
# batched calls, every point counted afterwards), event-bus throughput with a
# subscriber attached (ipc, tcp, and with the store as sink), and the cost of
# tracking on the OLS benchmark (cohort run with runtime.tracking true/false,
# alternating, plus a direct replay of one run's store traffic). Prints a
# table. About 3-4 minutes on an idle 2-core machine; the OLS part dominates
# and stretches with the machine's load.
#
# usage: bench/platform/run.sh [--reps N] [--pairs N] [--build-dir DIR]
#   --reps   runs of each store/bus measurement (default 5)
#   --pairs  OLS tracking-on/off pairs (default 5)
set -euo pipefail

cd "$(dirname "$0")/../.."
reps=5
pairs=5
build=build-plat
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) reps="$2"; shift ;;
    --pairs) pairs="$2"; shift ;;
    --build-dir) build="$2"; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench/platform/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

py=/usr/bin/python3
out=bench/out/platform
csv=bench/out/ols_1m_50.csv
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.json

echo "== build ($build, RelWithDebInfo)" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target cohort bench_track bench_events >/dev/null
bt="$build/bench/platform/bench_track"
be="$build/bench/platform/bench_events"

if [ ! -s "$csv" ]; then
    echo "== generate $csv" >&2
    "$py" bench/gen_ols.py "$csv"
fi

# 1. store: writers x call style; points chosen for about 0.2-1 s each
echo "== tracking store: $reps runs per configuration" >&2
for i in $(seq "$reps"); do
    for cfg in "1 1 10000" "1 10 40000" "1 100 100000" "4 1 2500" "4 10 10000" "4 100 25000"; do
        set -- $cfg
        "$bt" rate --db "$out/rate.db" --writers "$1" --batch "$2" --points "$3" >>"$out/rate.jsonl"
    done
done

# 2. bus: a 200,000-event burst on ipc and tcp; 20,000 with the store as sink
echo "== event bus: $reps runs per configuration" >&2
for i in $(seq "$reps"); do
    "$be" --transport ipc --events 200000 --jsonl "$out/bus.jsonl.log" >>"$out/bus.jsonl"
    "$be" --transport tcp --events 200000 --jsonl "$out/bus.jsonl.log" >>"$out/bus.jsonl"
    "$be" --transport ipc --events 20000 --jsonl "$out/bus.jsonl.log" --store "$out/bus.db" \
        >>"$out/bus.jsonl"
done
rm -f "$out/bus.jsonl.log"

# 3. OLS with tracking on and off, alternating which goes first. Both arms get
# long heartbeat and coordinator timeouts: the workers join while the
# coordinator is still reading the 466 MB CSV and hear nothing from it
# meanwhile, and on a loaded machine that read can outlast the defaults (10 s,
# 30 s), failing the run for reasons that have nothing to do with tracking.
echo "== OLS: $pairs pairs, tracking on/off alternating" >&2
export COHORT_DB="$out/ols.db"
rm -f "$out/ols.db" "$out/ols.db-wal" "$out/ols.db-shm"
ols_once() { # $1 = true|false
    local dir="$out/ols-$1"
    rm -rf "$dir"
    local t0 t1
    t0=$(date +%s.%N)
    "$build/cohort" run bench/ols.yaml --workers 2 --out "$dir" --set "data.train=$csv" \
        --set "runtime.tracking=$1" --set runtime.heartbeat_timeout=300 \
        --set runtime.coordinator_timeout=300 >/dev/null 2>"$out/ols-$1.err" ||
        { echo "cohort run (tracking=$1) failed:" >&2; cat "$out/ols-$1.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    "$py" - "$dir" "$1" "$t0" "$t1" >>"$out/ols.jsonl" <<'EOF'
import json, sys
d, tr, t0, t1 = sys.argv[1], sys.argv[2] == "true", float(sys.argv[3]), float(sys.argv[4])
s = json.load(open(d + "/summary.json"))
ev = [json.loads(l) for l in open(d + "/events.jsonl")]
print(json.dumps({"tracking": tr, "wall_s": t1 - t0, "run_id": s["run_id"],
                  "events": len(ev), "status": s["status"]}))
EOF
}
for i in $(seq "$pairs"); do
    if [ $((i % 2)) = 1 ]; then ols_once true; ols_once false; else ols_once false; ols_once true; fi
    echo "   pair $i/$pairs done" >&2
done
run=$("$py" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["tracking"]][-1]["run_id"])' "$out/ols.jsonl")
echo "== replay of run $run's store traffic, 21 times" >&2
"$bt" replay --db "$out/ols.db" --run "$run" --reps 21 >"$out/replay.json"

echo >&2
"$py" bench/platform/report.py "$out"
