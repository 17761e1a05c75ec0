#!/usr/bin/python3
"""bench_kmeans.py: cohort kmeans vs scikit-learn KMeans(algorithm="lloyd") on
Fashion-MNIST (60000 x 784, k=10, 100 iterations from the same initial
centroids: the first 10 training images). Times per Lloyd iteration (cohort:
the round times it logs for iterations; sklearn: fit time / n_iter_), the final
inertia of both, medians of RUNS runs, the ratio. Run from the repo root:

    /usr/bin/python3 bench/kmeans/bench_kmeans.py [build/cohort] [runs] [workers] [dtype]
"""
import gzip, os, re, statistics, subprocess, sys, time
import numpy as np

cohort = sys.argv[1] if len(sys.argv) > 1 else "build/cohort"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
workers = sys.argv[3] if len(sys.argv) > 3 else "2"
dtype = sys.argv[4] if len(sys.argv) > 4 else "float32"
src = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
with gzip.open(src) as f:
    X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(60000, 784)
X = X.astype(np.float32 if dtype == "float32" else np.float64)
C0 = X[:10].astype(np.float64)
init = "/tmp/cohort-bench-kmeans-init.csv"
with open(init, "w") as f:
    f.write(",".join("px%d" % j for j in range(784)) + "\n")
    for row in C0:
        f.write(",".join("%d" % v for v in row) + "\n")

def run_cohort():
    out = "/tmp/cohort-bench-kmeans-run"
    subprocess.run(["rm", "-rf", out], check=True)
    t0 = time.time()
    p = subprocess.run([cohort, "run", "bench/kmeans/fashion.yaml", "--workers", workers,
                        "--out", out, "--set", "model.dtype=" + dtype],
                       capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit("cohort failed: " + p.stderr[-2000:])
    times = [float(m.group(1)) for m in
             re.finditer(r"done in ([0-9.]+) s inertia=[^\n]*center_shift", p.stderr)]
    summ = open(out + "/summary.json").read()
    inertia = float(re.search(r'"inertia": ([0-9.e+-]+)', summ).group(1))
    return sum(times) / len(times), len(times), inertia, wall

def run_sklearn():
    from sklearn.cluster import KMeans
    t0 = time.time()
    km = KMeans(10, init=C0.astype(X.dtype), n_init=1, algorithm="lloyd", max_iter=100,
                tol=0).fit(X)
    t = time.time() - t0
    return t / km.n_iter_, km.n_iter_, km.inertia_, t

c = [run_cohort() for _ in range(runs)]
s = [run_sklearn() for _ in range(runs)]
ci = statistics.median(r[0] for r in c)
si = statistics.median(r[0] for r in s)
print("cohort  (%s workers, %s): %.4f s/iteration over %d iterations, inertia %.10g, wall %.2f s"
      % (workers, dtype, ci, c[0][1], c[0][2], statistics.median(r[3] for r in c)))
print("sklearn (%s): %.4f s/iteration over %d iterations, inertia %.10g, fit %.2f s"
      % (dtype, si, s[0][1], s[0][2], statistics.median(r[3] for r in s)))
print("relative inertia difference %.3g" % (abs(c[0][2] - s[0][2]) / s[0][2]))
print("time per iteration, cohort / sklearn = %.3f" % (ci / si))
flops = 2.0 * 60000 * 784 * 10
print("cohort distance GEMM rate: %.2f GFLOP/s (2*n*d*k per iteration over the iteration time)"
      % (flops / ci / 1e9))
