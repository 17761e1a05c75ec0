#!/usr/bin/python3
"""Churn benchmark: cohort gbt (2 local workers) against Debian's
python3-xgboost (tree_method=hist, nthread=2) on the same train/test rows,
200 rounds, depth 6, eta 0.1, 256 bins. Prints medians of 3 runs, the time
ratio and both test AUCs, the peak resident memory of each side (cohort:
coordinator and workers summed; XGBoost: a child process that trains on the
same arrays; both sampled by bench/peak.py), and cohort's round time split into
histogram building (the slowest worker's compute), communication and
waiting (the rest of the gather) and split finding (the coordinator's
aggregation), from events.jsonl.  Usage: bench/gbt/bench_churn.py [cohort-binary]"""
import csv, json, os, statistics, subprocess, sys, time
import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COHORT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "cohort")
OUT = os.path.join(ROOT, "bench", "out", "gbt")
os.makedirs(OUT, exist_ok=True)

rows = list(csv.reader(open(os.path.join(ROOT, "data", "churn.csv"))))
head, body = rows[0], rows[1:]
test = [r for i, r in enumerate(body) if i % 5 == 0]
train = [r for i, r in enumerate(body) if i % 5 != 0]
for name, part in (("train", train), ("test", test)):
    with open(os.path.join(OUT, "churn-%s.csv" % name), "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC if False else csv.QUOTE_MINIMAL)
        w.writerow(head)
        w.writerows(part)


def encode(part, levels):
    X = np.zeros((len(part), len(head) - 1), dtype=np.float32)
    for j in range(len(head) - 1):
        for i, r in enumerate(part):
            X[i, j] = levels[j].index(r[j]) if levels[j] else float(r[j])
    y = np.array([1.0 if r[-1] == "yes" else 0.0 for r in part])
    return X, y


levels = []
for j in range(len(head) - 1):
    try:
        [float(r[j]) for r in train]
        levels.append(None)
    except ValueError:
        levels.append(sorted(set(r[j] for r in train)))
Xtr, ytr = encode(train, levels)
Xte, yte = encode(test, levels)

cfg = os.path.join(OUT, "churn-gbt.yaml")
with open(cfg, "w") as f:
    f.write("""name: churn-gbt-bench
seed: 42
data: {train: churn-train.csv, test: churn-test.csv, target: churn, positive: "yes"}
partition: {scheme: stratified}
model: {algorithm: gbt, objective: binary:logistic, rounds: 200, max_depth: 6, eta: 0.1,
        max_bin: 256, eval_metric: logloss}
runtime: {checkpoint_every: 1000000}
""")

PEAK = os.path.join(ROOT, "bench", "peak.py")


def run_peak(cmd):
    """Runs cmd under bench/peak.py; returns (wall seconds, peak summed RSS
    of cmd and its descendants in MB)."""
    log = os.path.join(OUT, "peak.log")
    p = subprocess.run(["/usr/bin/python3", PEAK, log] + cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("%s failed (%s)" % (cmd[0], log))
    wall, kb = p.stdout.split()
    return float(wall), int(kb) / 1024.0


np.save(os.path.join(OUT, "churn-Xtr.npy"), Xtr)
np.save(os.path.join(OUT, "churn-ytr.npy"), ytr)
XGB_CHILD = """import sys, time, numpy as np, xgboost as xgb
X = np.load(sys.argv[1]); y = np.load(sys.argv[2])
b = xgb.train(dict(tree_method="hist", max_depth=6, eta=0.1, max_bin=256,
              objective="binary:logistic", base_score=0.5, nthread=2),
              xgb.DMatrix(X, label=y, nthread=2), 200)
"""
ct, cw, xt, x1 = [], [], [], []
cmem, xmem, hist, comm, split = [], [], [], [], []
for rep in range(3):
    d = os.path.join(OUT, "run%d" % rep)
    subprocess.run(["rm", "-rf", d])
    wall, mb = run_peak([COHORT, "run", cfg, "--workers", "2", "--out", d])
    cw.append(wall)
    cmem.append(mb)
    ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
    ends = [e["data"] for e in ev if e["topic"] == "round.end"]
    ct.append(sum(e["seconds"] for e in ends))
    hist.append(sum(e["engine"]["compute_seconds"] for e in ends))
    comm.append(sum(e["engine"]["gather_seconds"] - e["engine"]["compute_seconds"] for e in ends))
    split.append(sum(e["engine"]["aggregate_seconds"] for e in ends))
    xmem.append(run_peak(["/usr/bin/python3", "-c", XGB_CHILD, os.path.join(OUT, "churn-Xtr.npy"),
                          os.path.join(OUT, "churn-ytr.npy")])[1])
    summ = json.load(open(os.path.join(d, "summary.json")))
    t = time.time()
    dm = xgb.DMatrix(Xtr, label=ytr, nthread=2)
    b = xgb.train(dict(tree_method="hist", max_depth=6, eta=0.1, max_bin=256,
                       objective="binary:logistic", base_score=0.5, nthread=2), dm, 200)
    xt.append(time.time() - t)
    xauc = roc_auc_score(yte, b.predict(xgb.DMatrix(Xte)))
    t = time.time()
    xgb.train(dict(tree_method="hist", max_depth=6, eta=0.1, max_bin=256,
                   objective="binary:logistic", base_score=0.5, nthread=1),
              xgb.DMatrix(Xtr, label=ytr, nthread=1), 200)
    x1.append(time.time() - t)

cauc = summ["metrics"]["test_auc"]
print("cohort: training rounds %.3f s (median), end to end %.3f s" % (statistics.median(ct), statistics.median(cw)))
print("xgboost: training %.3f s nthread=2, %.3f s nthread=1 (medians)"
      % (statistics.median(xt), statistics.median(x1)))
print("time ratio cohort rounds / xgboost nthread=2: %.2f, / nthread=1: %.2f"
      % (statistics.median(ct) / statistics.median(xt), statistics.median(ct) / statistics.median(x1)))
print("test AUC: cohort %.5f, xgboost %.5f, difference %.5f" % (cauc, xauc, cauc - xauc))
print("peak memory (summed resident, medians): cohort %.0f MB (coordinator + 2 workers), "
      "xgboost %.0f MB (python process, nthread=2)" % (statistics.median(cmem), statistics.median(xmem)))
print("cohort round time over %d rounds (medians of the sums): histogram building %.3f s, "
      "communication and waiting %.3f s, split finding %.3f s"
      % (len(ends), statistics.median(hist), statistics.median(comm), statistics.median(split)))
