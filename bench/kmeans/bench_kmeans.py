#!/usr/bin/python3
"""bench_kmeans.py: cohort kmeans (Lloyd and Elkan) vs scikit-learn KMeans
(lloyd and elkan, float32 and float64) on Fashion-MNIST (60000 x 784, k=10,
100 iterations from the same initial centroids: the first 10 training images).

Time per iteration: cohort, the seconds of its k-means rounds (the first
iteration, which also builds the workers' row caches and Elkan's bounds,
through the final E-step) over the iterations, from events.jsonl; also the
median of the iteration rounds after the first ("steady"). scikit-learn: fit
time / n_iter_. Medians of RUNS runs each, the ratios, the final inertias.
Both Elkan variants compute exact Lloyd iterations (the same labels as
Lloyd's), so comparing them with scikit-learn's lloyd is like for like.
Run from the repo root:

    /usr/bin/python3 bench/kmeans/bench_kmeans.py [build/cohort] [runs] [workers]
"""
import gzip, json, os, statistics, subprocess, sys, time
import numpy as np

cohort = sys.argv[1] if len(sys.argv) > 1 else "build/cohort"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
workers = sys.argv[3] if len(sys.argv) > 3 else "2"
src = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
with gzip.open(src) as f:
    X8 = np.frombuffer(f.read(), np.uint8, offset=16).reshape(60000, 784)
C0 = X8[:10].astype(np.float64)
init = "/tmp/cohort-bench-kmeans-init.csv"
with open(init, "w") as f:
    f.write(",".join("px%d" % j for j in range(784)) + "\n")
    for row in C0:
        f.write(",".join("%d" % v for v in row) + "\n")
OP_LLOYD, OP_ELKAN = 5, 8


def run_cohort(method, dtype):
    out = "/tmp/cohort-bench-kmeans-run"
    subprocess.run(["rm", "-rf", out], check=True)
    p = subprocess.run([cohort, "run", "bench/kmeans/fashion.yaml", "--workers", workers,
                        "--out", out, "--set", "model.dtype=" + dtype,
                        "--set", "model.method=" + method], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("cohort failed: " + p.stderr[-2000:])
    ops, rounds = {}, []
    for line in open(out + "/events.jsonl"):
        e = json.loads(line)
        if e["topic"] == "round.start":
            ops[e["data"]["round"]] = e["data"]["op"]
        elif e["topic"] == "round.end" and ops.get(e["data"]["round"]) in (OP_LLOYD, OP_ELKAN):
            rounds.append((e["data"]["seconds"], "center_shift" in e["data"]["metrics"]))
    iters = [s for s, it in rounds if it]
    summ = json.load(open(out + "/summary.json"))
    return (sum(s for s, _ in rounds) / len(iters), statistics.median(iters[1:]), len(iters),
            summ["inertia"])


def run_sklearn(alg, dtype):
    from sklearn.cluster import KMeans
    X = X8.astype(dtype)
    t0 = time.time()
    km = KMeans(10, init=C0.astype(dtype), n_init=1, algorithm=alg, max_iter=100, tol=0).fit(X)
    t = time.time() - t0
    return t / km.n_iter_, km.n_iter_, km.inertia_


def sgemm_peak():
    a = np.random.default_rng(0).random((2000, 2000), dtype=np.float32)
    best = 0.0
    for _ in range(3):
        t0 = time.time()
        a @ a
        best = max(best, 2 * 2000**3 / (time.time() - t0))
    return best / 1e9


print("load average before: %s" % open("/proc/loadavg").read().split()[:3])
res = {}
for _ in range(runs):  # interleaved, so the machine's load hits every variant alike
    for m, dt in (("lloyd", "float32"), ("elkan", "float64")):
        res.setdefault(("cohort", m, dt), []).append(run_cohort(m, dt))
    for m in ("lloyd", "elkan"):
        for dt in ("float32", "float64"):
            res.setdefault(("sklearn", m, dt), []).append(run_sklearn(m, getattr(np, dt)))
med = {key: statistics.median(r[0] for r in v) for key, v in res.items()}
ref = med[("sklearn", "lloyd", "float32")]
flops = 2.0 * 60000 * 784 * 10
print("%-28s %10s %10s %6s %7s %7s %18s %9s" % ("", "s/iter", "steady", "iters", "ratio",
                                                 "ratio64", "final inertia", "rel diff"))
for key, v in res.items():
    steady = "%10.4f" % statistics.median(r[1] for r in v) if key[0] == "cohort" else " " * 10
    # the peer computing in the same precision: cohort's elkan works in double
    same = "float64" if key[2] == "float64" else "float32"
    peer = res[("sklearn", "lloyd", same)][0][-1]
    inertia = v[0][-1]
    print("%-28s %10.4f %s %6d %7.3f %7.3f %18.10g %9.2g" %
          (" ".join(key), med[key], steady, v[0][2] if key[0] == "cohort" else v[0][1],
           med[key] / ref, med[key] / med[("sklearn", "lloyd", "float64")], inertia,
           abs(inertia - peer) / peer))
print("ratio, ratio64 = time per iteration / scikit-learn lloyd float32's, float64's; rel diff = "
      "relative difference of the final inertia from scikit-learn lloyd's in the same precision "
      "(cohort elkan computes in double: float64)")
lloyd = med[("cohort", "lloyd", "float32")]
print("cohort lloyd distance GEMM: %.2f GFLOP/s (2 n d k per iteration); numpy sgemm peak "
      "(2000^3, all cores) %.1f GFLOP/s" % (flops / lloyd / 1e9, sgemm_peak()))
print("load average after: %s" % open("/proc/loadavg").read().split()[:3])
