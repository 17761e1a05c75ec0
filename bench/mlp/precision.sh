#!/bin/bash
# precision.sh: mixed precision on Fashion-MNIST, MLP 784-256-128-10, Adam
# 1e-3, batch 128 (bench_mlp.c in one process): fp32 against bf16 and fp16
# (16-bit weights, activations and stored input rows; float masters and
# sgemm), interleaved, medians of REPS runs. Peak RSS of each run from
# bench/peak.py (the whole process, including reading the IDX files into a
# table of doubles) and the RSS while training (bench_mlp's train_rss_kb).
#   bench/mlp/precision.sh [BUILD_DIR] [EPOCHS] [REPS] [THREADS]
set -eu
cd "$(dirname "$0")/../.."
B=${1:-build}
EPOCHS=${2:-2}
REPS=${3:-3}
TH=${4:-2}
DATA=/usr/share/datasets/fashion-mnist
OUT=bench/out/mlp
mkdir -p "$OUT"
mpicc -O2 -std=gnu11 -I. -I"$B" -o "$OUT/bench_mlp" bench/mlp/bench_mlp.c "$B/libcohort_core.a" \
    "$B/libcohort_proto.a" $(pkg-config --libs libzmq libprotobuf-c yaml-0.1 sqlite3 zlib lapacke openblas) \
    -lpthread -lm
R="$OUT/precision.jsonl"
: >"$R"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$REPS"); do
    for pr in fp32 bf16 fp16; do
        set -- $(/usr/bin/python3 bench/peak.py "$OUT/prec.out" "$OUT/bench_mlp" $DATA "$TH" "$EPOCHS" $pr)
        echo "{\"rep\": $rep, \"peak_kb\": $2, \"r\": $(cat "$OUT/prec.out")}" >>"$R"
        tail -n 1 "$R"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$R" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["r"]["precision"], []).append(r)
med = lambda rs, f: statistics.median(f(x) for x in rs)
print("| precision | runs | train s | test accuracy | peak RSS MB | RSS while training MB | stored rows MB | workspace KB | skipped steps |")
print("|---|---|---|---|---|---|---|---|---|")
base = by["fp32"]
for pr in ("fp32", "bf16", "fp16"):
    rs = by[pr]
    print("| %s | %d | %.2f | %.4f | %.0f | %.0f | %.0f | %.0f | %d |" % (pr, len(rs),
          med(rs, lambda x: x["r"]["train_seconds"]), med(rs, lambda x: x["r"]["test_accuracy"]),
          med(rs, lambda x: x["peak_kb"]) / 1024, med(rs, lambda x: x["r"]["train_rss_kb"]) / 1024,
          rs[0]["r"]["rows_bytes"] / 2**20, rs[0]["r"]["workspace_bytes"] / 1024,
          med(rs, lambda x: x["r"]["skipped_steps"])))
for pr in ("bf16", "fp16"):
    rs = by[pr]
    print("%s / fp32: time %.2f, peak RSS %.2f, RSS while training %.2f, accuracy %+.2f points" % (pr,
          med(rs, lambda x: x["r"]["train_seconds"]) / med(base, lambda x: x["r"]["train_seconds"]),
          med(rs, lambda x: x["peak_kb"]) / med(base, lambda x: x["peak_kb"]),
          med(rs, lambda x: x["r"]["train_rss_kb"]) / med(base, lambda x: x["r"]["train_rss_kb"]),
          100 * (med(rs, lambda x: x["r"]["test_accuracy"]) - med(base, lambda x: x["r"]["test_accuracy"]))))
PY
