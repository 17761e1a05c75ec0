#!/bin/bash
# run.sh: cohort's MLP against PyTorch on CPU, Fashion-MNIST 784-256-128-10,
# Adam 1e-3, batch 128, same epochs, interleaved, medians of REPS runs.
#   bench/mlp/run.sh [BUILD_DIR] [EPOCHS] [REPS] [THREADS...]
# Writes bench/out/mlp/results.jsonl and prints medians and ratios.
#  - cohort-inproc: bench_mlp.c (cohort's kernels and trainer, one process,
#    THREADS OpenBLAS threads, one gradient per batch)
#  - torch: bench_torch.py with torch.set_num_threads(THREADS)
#  - cohort-run: `cohort run examples/fmnist-mlp.yaml --workers 1` (the real
#    program: coordinator + one worker with one BLAS thread); training time
#    = first round.start to last round.end in events.jsonl
set -eu
cd "$(dirname "$0")/../.."
B=${1:-build}
EPOCHS=${2:-5}
REPS=${3:-3}
shift $(($# < 3 ? $# : 3))
THREADS=${*:-1 2}
DATA=/usr/share/datasets/fashion-mnist
OUT=bench/out/mlp
mkdir -p "$OUT"
mpicc -O2 -std=gnu11 -I. -I"$B" -o "$OUT/bench_mlp" bench/mlp/bench_mlp.c "$B/libcohort_core.a" \
    "$B/libcohort_proto.a" $(pkg-config --libs libzmq libprotobuf-c yaml-0.1 sqlite3 zlib lapacke openblas) \
    -lpthread -lm
R="$OUT/results.jsonl"
: >"$R"
for rep in $(seq "$REPS"); do
    for th in $THREADS; do
        echo "{\"who\": \"cohort-inproc\", \"rep\": $rep, \"r\": $("$OUT/bench_mlp" $DATA "$th" "$EPOCHS")}" >>"$R"
        echo "{\"who\": \"torch\", \"rep\": $rep, \"r\": $(/usr/bin/python3 bench/mlp/bench_torch.py $DATA "$th" "$EPOCHS")}" >>"$R"
    done
    rm -rf "$OUT/run"
    "$B/cohort" run examples/fmnist-mlp.yaml --workers 1 --set model.epochs="$EPOCHS" \
        --set runtime.heartbeat_timeout=120 \
        --out "$OUT/run" >/dev/null 2>&1
    python3 - "$OUT/run" "$rep" >>"$R" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.jsonl")]
t0 = min(e["time"] for e in ev if e["topic"] == "round.start")
t1 = max(e["time"] for e in ev if e["topic"] == "round.end")
s = json.load(open(sys.argv[1] + "/summary.json"))
print(json.dumps({"who": "cohort-run", "rep": int(sys.argv[2]), "r": {"threads": 1,
      "train_seconds": round(t1 - t0, 3), "wall_seconds": s["wall_seconds"],
      "test_accuracy": s["metrics"]["test_accuracy"]}}))
PY
    tail -n 5 "$R"
done
python3 - "$R" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for r in rows:
    med.setdefault((r["who"], r["r"]["threads"]), []).append(r["r"])
print("| who | threads | runs | train s (median) | test accuracy (median) | GFLOP/s |")
print("|---|---|---|---|---|---|")
for (who, th), rs in sorted(med.items()):
    g = statistics.median(x["gflops"] for x in rs) if "gflops" in rs[0] else float("nan")
    print("| %s | %d | %d | %.2f | %.4f | %.2f |" % (who, th, len(rs),
          statistics.median(x["train_seconds"] for x in rs),
          statistics.median(x["test_accuracy"] for x in rs), g))
for th in sorted({k[1] for k in med}):
    if ("torch", th) in med:
        tt = statistics.median(x["train_seconds"] for x in med[("torch", th)])
        for who in ("cohort-inproc", "cohort-run"):
            if (who, th) in med:
                ct = statistics.median(x["train_seconds"] for x in med[(who, th)])
                print("ratio %s / torch at %d thread(s): %.2f" % (who, th, ct / tt))
PY
