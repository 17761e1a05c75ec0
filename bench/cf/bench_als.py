#!/usr/bin/python3
"""bench_als.py: one ALS iteration of cohort (model.algorithm als, implicit,
exact solves: cg_steps 0) against the same update written with NumPy
(Debian's python3-numpy, batched: all users' normal equations built with
np.add.at and solved with one batched np.linalg.solve), on generated ratings
with planted taste groups (build/test_cf --dump). Also: the machine's dgemm
rate with one BLAS thread, for the ALS flop rate, and cohort's recall@10.

usage: /usr/bin/python3 bench/cf/bench_als.py BUILD_DIR USERS ITEMS PER_USER GROUPS [REPEATS]
Interleaved runs, medians. Prints a Markdown table row set."""
import json, os, statistics, subprocess, sys, tempfile, time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

build, U, I, PU, G = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
reps = int(sys.argv[6]) if len(sys.argv) > 6 else 3
F, LAM, ALPHA, ITERS, WORKERS = 32, 1.0, 10.0, 4, 2
tmp = tempfile.mkdtemp(prefix="cfbench")
csv = os.path.join(tmp, "ratings.csv")
with open(csv, "w") as f:
    subprocess.run([os.path.join(build, "test_cf"), "--dump", str(U), str(I), str(PU), str(G), "7"],
                   stdout=f, check=True)
data = np.loadtxt(csv, delimiter=",", skiprows=1)
uid = np.unique(data[:, 0], return_inverse=True)[1]
iid = np.unique(data[:, 1], return_inverse=True)[1]
r = data[:, 2]
keep = np.random.default_rng(1).random(len(r)) < 0.8  # cohort trains on 80% (test_fraction 0.2)
nu, ni, nnz = uid.max() + 1, iid.max() + 1, len(r)

cfg = os.path.join(tmp, "als.yaml")
with open(cfg, "w") as f:
    f.write(f"""name: cf-bench
seed: 7
data:
  train: {csv}
  test_fraction: 0.2
model:
  algorithm: als
  implicit: true
  factors: {F}
  regularization: {LAM}
  alpha: {ALPHA}
  iterations: {ITERS}
  cg_steps: 0
  eval_users: 0
  recommend: false
""")

def cohort():
    out = os.path.join(tmp, "run")
    subprocess.run([os.path.join(build, "cohort"), "run", cfg, "--workers", str(WORKERS), "--out", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secs = []
    for line in open(os.path.join(out, "events.jsonl")):
        e = json.loads(line)
        if e.get("topic") == "round.end":
            secs.append(e["data"]["seconds"])
    summ = json.load(open(os.path.join(out, "summary.json")))
    return statistics.median(secs[1:]), summ["metrics"].get("test_recall_at_k")

def numpy_iteration(Y, X):
    """users from Y, then items from X: the same exact update as cohort.
    Interactions sorted by row; outer products summed per row with
    np.add.reduceat over chunks of rows (nnz x f x f would not fit)."""
    c1 = ALPHA * r[keep]  # c - 1
    u, i = uid[keep], iid[keep]
    for (rows, cols, V, out) in ((u, i, Y, X), (i, u, X, Y)):
        n = out.shape[0]
        o = np.argsort(rows, kind="stable")
        rs, cs, w = rows[o], cols[o], c1[o]
        starts = np.searchsorted(rs, np.arange(n + 1))
        G = V.T @ V + LAM * np.eye(F)
        A = np.broadcast_to(G, (n, F, F)).copy()
        b = np.zeros((n, F))
        step = max(1, n // 50)
        for a in range(0, n, step):
            z = min(n, a + step)
            lo, hi = starts[a], starts[z]
            if hi == lo:
                continue
            Vc = V[cs[lo:hi]]
            seg = starts[a:z] - lo
            nz = starts[a + 1:z + 1] > starts[a:z]
            outer = w[lo:hi, None, None] * (Vc[:, :, None] * Vc[:, None, :])
            A[a:z][nz] += np.add.reduceat(outer, seg[nz], axis=0)
            b[a:z][nz] += np.add.reduceat((1 + w[lo:hi])[:, None] * Vc, seg[nz], axis=0)
        out[:] = np.linalg.solve(A, b[:, :, None])[:, :, 0]

def numpy_time():
    rng = np.random.default_rng(7)
    Y = 0.1 * rng.standard_normal((ni, F)); X = np.zeros((nu, F))
    ts = []
    for _ in range(ITERS):
        t = time.perf_counter(); numpy_iteration(Y, X); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

def dgemm_rate():
    a = np.random.rand(2000, 2000); b = np.random.rand(2000, 2000)
    a @ b
    t = time.perf_counter(); a @ b; t = time.perf_counter() - t
    return 2 * 2000**3 / t / 1e9

ch, npy, rec = [], [], None
for _ in range(reps):
    s, rec = cohort(); ch.append(s)
    npy.append(numpy_time())
gf = dgemm_rate()
# flops of one iteration: rank-1 updates f^2 per interaction on each side (users
# see 80% of the ratings after the holdout), Cholesky f^3/3 per row
ntr = 0.8 * nnz
flops = 2 * ntr * F * F * 2 + (nu + ni) * F**3 / 3
print(f"| ratings {nnz}, users {nu}, items {ni}, f {F}, {WORKERS} workers | cohort {statistics.median(ch):.3f} s/iter "
      f"| numpy (reduceat + batched solve) {statistics.median(npy):.3f} s/iter | ratio numpy/cohort {statistics.median(npy)/statistics.median(ch):.2f} "
      f"| cohort {flops/statistics.median(ch)/1e9:.2f} GFLOP/s vs dgemm {gf:.1f} GFLOP/s/core | recall@10 {rec:.3f} |")
print("cohort runs:", ["%.3f" % v for v in ch], "numpy runs:", ["%.3f" % v for v in npy])
