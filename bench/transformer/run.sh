#!/bin/bash
# run.sh: cohort's transformer against the same model in PyTorch on CPU:
# Fashion-MNIST as 28 rows of 28 pixels, the model of
# examples/fmnist-transformer.yaml, Adam 1e-3, batch 128, the first N_TRAIN
# training images for EPOCHS epochs (the stated budget), accuracy on the
# 10,000 test images; interleaved, medians of REPS runs.
#   bench/transformer/run.sh [BUILD_DIR] [N_TRAIN] [EPOCHS] [REPS] [THREADS...]
# Writes bench/out/transformer/results.jsonl and prints medians and ratios.
#  - cohort-inproc: bench_transformer.c (cohort's kernels and trainer, one
#    process, THREADS OpenBLAS threads, one gradient per batch)
#  - torch: bench_torch.py with torch.set_num_threads(THREADS)
#  - cohort-run: `cohort run examples/fmnist-transformer.yaml --workers W`
#    on a CSV of the same N_TRAIN images (the real program: coordinator +
#    W workers with one BLAS thread each); training time = first
#    round.start to last round.end in events.jsonl, which includes the
#    coordinator's validation pass over the 10,000 test images per epoch
set -eu
cd "$(dirname "$0")/../.."
B=${1:-build}
N=${2:-10000}
EPOCHS=${3:-1}
REPS=${4:-3}
shift $(($# < 4 ? $# : 4))
THREADS=${*:-1 2}
DATA=/usr/share/datasets/fashion-mnist
OUT=bench/out/transformer
mkdir -p "$OUT"
mpicc -O2 -std=gnu11 -I. -I"$B" -o "$OUT/bench_transformer" bench/transformer/bench_transformer.c \
    "$B/libcohort_core.a" "$B/libcohort_proto.a" \
    $(pkg-config --libs libzmq libprotobuf-c yaml-0.1 sqlite3 zlib lapacke openblas) -lpthread -lm
CSV="$OUT/train$N.csv"
if [ ! -s "$CSV" ]; then
    /usr/bin/python3 - "$DATA" "$N" "$CSV" <<'PY'
import gzip, sys
import numpy as np
d, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with gzip.open(d + "/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:n]
with gzip.open(d + "/train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
with open(out, "w") as f:
    f.write(",".join("px%d" % i for i in range(784)) + ",label\n")
    for r, l in zip(x, y):
        f.write(",".join(map(str, r)) + ",%d\n" % l)
PY
fi
R="$OUT/results.jsonl"
: >"$R"
for rep in $(seq "$REPS"); do
    echo "# rep $rep, $(uptime)" >&2
    for th in $THREADS; do
        echo "{\"who\": \"cohort-inproc\", \"rep\": $rep, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \"r\": $("$OUT/bench_transformer" $DATA "$th" "$N" "$EPOCHS")}" >>"$R"
        echo "{\"who\": \"torch\", \"rep\": $rep, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \"r\": $(/usr/bin/python3 bench/transformer/bench_torch.py $DATA "$th" "$N" "$EPOCHS")}" >>"$R"
    done
    for w in 1 2; do
        rm -rf "$OUT/run"
        "$B/cohort" run examples/fmnist-transformer.yaml --workers $w --set data.train="$CSV" \
            --set model.epochs="$EPOCHS" --set runtime.heartbeat_timeout=120 \
            --set runtime.checkpoint_every=100000 --out "$OUT/run" >/dev/null 2>&1
        python3 - "$OUT/run" "$rep" "$w" >>"$R" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.jsonl")]
t0 = min(e["time"] for e in ev if e["topic"] == "round.start")
t1 = max(e["time"] for e in ev if e["topic"] == "round.end")
s = json.load(open(sys.argv[1] + "/summary.json"))
print(json.dumps({"who": "cohort-run-%sw" % sys.argv[3], "rep": int(sys.argv[2]),
      "r": {"threads": 1, "train_seconds": round(t1 - t0, 3), "wall_seconds": s["wall_seconds"],
            "test_accuracy": s["metrics"]["test_accuracy"],
            "weights_fnv1a": s["network"]["weights_fnv1a"]}}))
PY
    done
    tail -n 6 "$R" >&2
done
python3 - "$R" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for r in rows:
    med.setdefault((r["who"], r["r"]["threads"]), []).append(r["r"])
print("| who | threads | runs | train s (median) | test accuracy (median) |")
print("|---|---|---|---|---|")
m = {}
for (who, th), rs in sorted(med.items()):
    t = statistics.median(x["train_seconds"] for x in rs)
    m[(who, th)] = t
    print("| %s | %d | %d | %.2f | %.4f |" % (who, th, len(rs), t,
          statistics.median(x["test_accuracy"] for x in rs)))
for (who, th), t in sorted(m.items()):
    if who == "cohort-inproc" and ("torch", th) in m:
        print("cohort-inproc / torch at %d threads: %.3f of PyTorch's time" % (th, t / m[("torch", th)]))
PY
