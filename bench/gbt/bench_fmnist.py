#!/usr/bin/python3
"""Fashion-MNIST benchmark: cohort gbt (examples/fmnist-gbt.yaml, 2 local
workers) against Debian's python3-xgboost hist with nthread=2 and nthread=1,
interleaved in the same run; medians of REPS runs, time ratios, accuracies
and the load average. Usage:
  bench/gbt/bench_fmnist.py [cohort-binary] [rounds=20] [reps=3]"""
import gzip, json, os, statistics, subprocess, sys, time
import numpy as np
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COHORT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "cohort")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
REPS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
OUT = os.path.join(ROOT, "bench", "out", "gbt")
os.makedirs(OUT, exist_ok=True)


def rd(p, off):
    with gzip.open(p) as f:
        return np.frombuffer(f.read(), np.uint8, offset=off)


d = "/usr/share/datasets/fashion-mnist/"
X = rd(d + "train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
y = rd(d + "train-labels-idx1-ubyte.gz", 8)
Xt = rd(d + "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)
yt = rd(d + "t10k-labels-idx1-ubyte.gz", 8)


def xgb_run(nthread):
    t = time.time()
    dm = xgb.DMatrix(X, label=y, nthread=nthread)
    b = xgb.train(dict(tree_method="hist", max_depth=6, eta=0.3, objective="multi:softprob",
                       num_class=10, max_bin=256, nthread=nthread), dm, ROUNDS)
    el = time.time() - t
    return el, float((b.predict(xgb.DMatrix(Xt)).argmax(1) == yt).mean())


ct, cw, x2, x1, loads = [], [], [], [], []
for rep in range(REPS):
    loads.append(os.getloadavg()[0])
    out = os.path.join(OUT, "fmnist%d" % rep)
    subprocess.run(["rm", "-rf", out])
    t = time.time()
    subprocess.run([COHORT, "run", os.path.join(ROOT, "examples", "fmnist-gbt.yaml"), "--workers",
                    "2", "--set", "model.rounds=%d" % ROUNDS, "--out", out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cw.append(time.time() - t)
    ev = [json.loads(l) for l in open(os.path.join(out, "events.jsonl"))]
    ct.append(sum(e["data"]["seconds"] for e in ev if e["topic"] == "round.end"))
    cacc = json.load(open(os.path.join(out, "summary.json")))["metrics"]["test_accuracy"]
    t2, a2 = xgb_run(2)
    x2.append(t2)
    t1, a1 = xgb_run(1)
    x1.append(t1)
    print("rep %d: load %.1f cohort rounds %.1f s (end to end %.1f s) acc %.4f; xgboost "
          "nthread=2 %.1f s acc %.4f, nthread=1 %.1f s acc %.4f"
          % (rep, loads[-1], ct[-1], cw[-1], cacc, t2, a2, t1, a1), flush=True)

m = statistics.median
print("rounds %d, reps %d, load average at the starts %s" % (ROUNDS, REPS, loads))
print("cohort: training rounds %.1f s (median), end to end %.1f s" % (m(ct), m(cw)))
print("xgboost: %.1f s nthread=2, %.1f s nthread=1 (medians)" % (m(x2), m(x1)))
print("ratio cohort rounds / xgboost nthread=2: %.2f, / nthread=1: %.2f"
      % (m(ct) / m(x2), m(ct) / m(x1)))
print("test accuracy: cohort %.4f, xgboost %.4f" % (cacc, a2))
