#!/usr/bin/python3
"""bench_als.py: the cf benchmark of BENCHMARKS.md "## cf".

On ratings generated with planted taste groups (build/test_cf --dump: users
and items in GROUPS groups, 80% of a user's interactions in its own group):

* ALS (implicit, f 32, exact solves: cg_steps 0) through `cohort run`, the
  seconds of one iteration (two rounds: users solved on the workers from
  their CSR rows, then items solved on the workers from their CSC columns;
  round seconds include the coordinator's aggregate), against the same
  update written with NumPy (Debian's python3-numpy: outer products summed
  per row with np.add.reduceat, one batched np.linalg.solve), runs
  interleaved; and against the machine's BLAS peak (NumPy's dgemm on
  2000 x 2000, one and two OpenBLAS threads).
* item_knn (cosine on the ratings, shrinkage 100) through `cohort run`.
* Quality: held-out recall@10 (summary.json, random 20% holdout) and the
  planted structure: the share of a sampled user's top-10 (`cohort predict`
  with only the user column) that lies in the user's own group, and the
  share of a sampled item's 10 similar items (`cohort predict` with only
  the item column) in the item's group. Random is 1/GROUPS.
* Memory: the peak resident set (VmHWM) of the coordinator and of each
  worker, against the training CSR + CSC (12 bytes a nonzero each) plus
  the factors (8 bytes a value).

usage: /usr/bin/python3 bench/cf/bench_als.py BUILD_DIR USERS ITEMS PER_USER GROUPS
                                               [REPEATS [KNN_REPEATS]]
Prints Markdown rows and the raw runs."""
import json, os, statistics, subprocess, sys, tempfile, threading, time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

build, U, I, PU, G = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
reps = int(sys.argv[6]) if len(sys.argv) > 6 else 3
knn_reps = int(sys.argv[7]) if len(sys.argv) > 7 else 1
F, LAM, ALPHA, ITERS, WORKERS, SAMPLE = 32, 1.0, 10.0, 4, 2, 2000
cohort_bin = os.path.abspath(os.path.join(build, "cohort"))
tmp = tempfile.mkdtemp(prefix="cfbench")
csv = os.path.join(tmp, "ratings.csv")
t0 = time.perf_counter()
with open(csv, "w") as f:
    subprocess.run([os.path.join(build, "test_cf"), "--dump", str(U), str(I), str(PU), str(G), "7"],
                   stdout=f, check=True)
data = np.loadtxt(csv, delimiter=",", skiprows=1)
uid = np.unique(data[:, 0], return_inverse=True)[1]
iid = np.unique(data[:, 1], return_inverse=True)[1]
r = data[:, 2]
keep = np.random.default_rng(1).random(len(r)) < 0.8  # cohort trains on 80% (test_fraction 0.2)
nu, ni, nnz = uid.max() + 1, iid.max() + 1, len(r)
per_group = I // G
print(f"generated and loaded {nnz} interactions in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def peak_rss(root_pid, out, stop):
    """Polls the VmHWM of root_pid and its descendants into out[pid]."""
    while not stop.is_set():
        kids = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    kids.setdefault(ppid, []).append(int(p))
                except (OSError, IndexError, ValueError):
                    pass
        pending, tree = [root_pid], []
        while pending:
            p = pending.pop()
            tree.append(p)
            pending.extend(kids.get(p, []))
        for p in tree:
            try:
                with open(f"/proc/{p}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            out[p] = max(out.get(p, 0), int(line.split()[1]) * 1024)
            except OSError:
                pass
        time.sleep(0.2)


def run(cfg, out, extra=()):
    """cohort run with WORKERS workers; retried once (the machine is shared
    and a stray kill has been seen). Returns (summary, round seconds,
    {pid: peak bytes} with the coordinator first, wall seconds)."""
    for attempt in range(2):
        t = time.perf_counter()
        p = subprocess.Popen([cohort_bin, "run", cfg, "--workers", str(WORKERS), "--out", out, *extra],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mem, stop = {}, threading.Event()
        th = threading.Thread(target=peak_rss, args=(p.pid, mem, stop))
        th.start()
        p.wait()
        wall = time.perf_counter() - t
        stop.set()
        th.join()
        summ = json.load(open(os.path.join(out, "summary.json")))
        if summ.get("status") == "finished":
            break
        print("run failed, retrying:", summ.get("error"), file=sys.stderr)
    secs = []
    for line in open(os.path.join(out, "events.jsonl")):
        e = json.loads(line)
        if e.get("topic") == "round.end":
            secs.append(e["data"]["seconds"] + e["data"]["engine"].get("aggregate_seconds", 0))
    coord = mem.pop(p.pid, 0)
    return summ, secs, [coord] + sorted(mem.values(), reverse=True)[:WORKERS], wall


def predict(model, column, ids):
    q = os.path.join(tmp, "q.csv")
    with open(q, "w") as f:
        f.write(column + "\n" + "".join(f"{v}\n" for v in ids))
    res = subprocess.run([cohort_bin, "predict", "--model", model, "--data", q], check=True,
                         capture_output=True, text=True).stdout.splitlines()[1:]
    return [line.split(",") for line in res]


def planted(run_dir):
    """Shares of sampled users' top-10 and sampled items' similar items that
    lie in the planted group."""
    rng = np.random.default_rng(3)
    users = rng.choice(np.arange(1, U + 1), SAMPLE, replace=False)
    rows = predict(os.path.join(run_dir, "model.pb"), "user", users)
    u_share = np.mean([(int(it) - 1) // per_group == (int(u) - 1) % G for u, _, it, _ in rows])
    items = rng.choice(np.arange(1, per_group * G + 1), SAMPLE, replace=False)
    rows = predict(os.path.join(run_dir, "model.pb"), "item", items)
    i_share = np.mean([(int(a) - 1) // per_group == (int(b) - 1) // per_group for a, _, b, _ in rows])
    return u_share, i_share, len(rows) / SAMPLE


def config(path, algo_lines):
    with open(path, "w") as f:
        f.write(f"name: cf-bench\nseed: 7\ndata:\n  train: {csv}\n  test_fraction: 0.2\n"
                f"model:\n{algo_lines}  eval_users: 0\n  recommend: false\n")
    return path


als_cfg = config(os.path.join(tmp, "als.yaml"),
                 f"  algorithm: als\n  implicit: true\n  factors: {F}\n  regularization: {LAM}\n"
                 f"  alpha: {ALPHA}\n  iterations: {ITERS}\n  cg_steps: 0\n")
knn_cfg = config(os.path.join(tmp, "knn.yaml"),
                 "  algorithm: item_knn\n  similarity: cosine\n  shrinkage: 100\n  k: 40\n"
                 "  block_mb: 512\n")


def numpy_iteration(Y, X):
    """users from Y, then items from X: the same exact update as cohort.
    Interactions sorted by row; rows taken in chunks padded to the chunk's
    longest row (V[P] with a 0/1 mask, about 32 MB a chunk), their normal
    equations by batched matmul, then one batched np.linalg.solve."""
    c1 = ALPHA * r[keep]  # c - 1
    u, i = uid[keep], iid[keep]
    for (rows, cols, V, out) in ((u, i, Y, X), (i, u, X, Y)):
        n = out.shape[0]
        o = np.argsort(rows, kind="stable")
        cs, w = cols[o], c1[o]
        starts = np.searchsorted(rows[o], np.arange(n + 1))
        lens = np.diff(starts)
        Gm = V.T @ V + LAM * np.eye(F)
        A = np.empty((n, F, F))
        b = np.empty((n, F))
        a = 0
        while a < n:
            z = a + 1
            while z < n and (z + 1 - a) * max(lens[a:z + 1].max(), 1) * F * 8 < 32 << 20:
                z = min(n, z + max(1, (z - a)))  # grow geometrically, then trim
            while z > a + 1 and (z - a) * max(lens[a:z].max(), 1) * F * 8 >= 32 << 20:
                z = a + (z - a) // 2
            L = max(int(lens[a:z].max()), 1)
            ar = np.arange(L)
            mask = ar[None, :] < lens[a:z, None]
            idx = np.minimum(starts[a:z, None] + ar[None, :], len(cs) - 1)
            Vp = V[cs[idx]] * mask[:, :, None]
            wp = np.where(mask, w[idx], 0.0)
            A[a:z] = Gm + np.matmul((Vp * wp[:, :, None]).transpose(0, 2, 1), Vp)
            b[a:z] = np.matmul(((1 + wp) * mask)[:, None, :], Vp)[:, 0, :]
            a = z
        out[:] = np.linalg.solve(A, b[:, :, None])[:, :, 0]


def numpy_time():
    rng = np.random.default_rng(7)
    Y = 0.1 * rng.standard_normal((ni, F))
    X = np.zeros((nu, F))
    ts = []
    for _ in range(ITERS):
        t = time.perf_counter()
        numpy_iteration(Y, X)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts[1:])


def dgemm_rate(threads):
    code = ("import time, numpy as np\n"
            "a = np.random.rand(2000, 2000); b = np.random.rand(2000, 2000); a @ b\n"
            "ts = []\n"
            "for _ in range(5):\n"
            "    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)\n"
            "print(2 * 2000**3 / min(ts) / 1e9)\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    return float(subprocess.run(["/usr/bin/python3", "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout)


ch, npy, mem_als, rec = [], [], [], None
for k in range(reps):
    summ, secs, mem, wall = run(als_cfg, os.path.join(tmp, f"als{k}"))
    its = [secs[2 * k] + secs[2 * k + 1] for k in range(len(secs) // 2)]  # users + items
    ch.append(statistics.median(its[1:]))
    mem_als.append(mem)
    rec = summ["metrics"].get("test_recall_at_k")
    npy.append(numpy_time())
    print(f"als run {k}: rounds {['%.2f' % s for s in secs]} wall {wall:.1f} s; numpy {npy[-1]:.2f} s/iter",
          file=sys.stderr)
als_planted = planted(os.path.join(tmp, "als0"))
gf1, gf2 = dgemm_rate(1), dgemm_rate(2)

kw, kmem, krec, krounds = [], [], float("nan"), 0
for k in range(knn_reps):
    summ, secs, mem, wall = run(knn_cfg, os.path.join(tmp, f"knn{k}"))
    kw.append(wall)
    kmem.append(mem)
    krec = summ["metrics"].get("test_recall_at_k")
    krounds = summ.get("rounds")
    print(f"item_knn run {k}: rounds {len(secs)} wall {wall:.1f} s", file=sys.stderr)
knn_planted = planted(os.path.join(tmp, "knn0")) if knn_reps else (float("nan"),) * 3

ntr = int(keep.sum())
# flops of one iteration: the normal equations take f(f+1) per interaction
# on each side (a symmetric rank-1 update, upper triangle: f(f+1)/2
# multiply-adds), a Cholesky f^3/3 and two triangular solves 2 f^2 per row
flops = 2 * ntr * F * (F + 1) + (nu + ni) * (F**3 / 3 + 2 * F * F)
sparse = 2 * (ntr * 12) + (nu + ni + 2) * 8
factors = (nu + ni) * F * 8
cm, nm = statistics.median(ch), statistics.median(npy)
MB = 1 / 2**20


def mem_row(ms):
    coord = statistics.median(m[0] for m in ms)
    work = statistics.median(max(m[1:]) for m in ms)
    return coord, work


print(f"\nratings {nnz} ({ntr} train), users {nu}, items {ni}, groups {G}, f {F}, {WORKERS} workers, "
      f"{reps} ALS runs, {knn_reps} item_knn runs")
print(f"| ALS iteration | cohort {cm:.2f} s | NumPy {nm:.2f} s | NumPy / cohort {nm / cm:.2f} | "
      f"cohort {flops / cm / 1e9:.2f} GFLOP/s | dgemm 1 thread {gf1:.1f}, 2 threads {gf2:.1f} GFLOP/s | "
      f"cohort / 2-thread peak {flops / cm / 1e9 / gf2:.3f} |")
print(f"| ALS quality | held-out recall@10 {rec:.4f} | top-10 in own group {als_planted[0]:.3f} | "
      f"similar items in own group {als_planted[1]:.3f} ({als_planted[2]:.1f} per item) | random {1 / G:.3f} |")
print(f"| item_knn | wall {statistics.median(kw or [float('nan')]):.1f} s, {krounds} rounds | held-out recall@10 {krec:.4f} | "
      f"top-10 in own group {knn_planted[0]:.3f} | similar items in own group {knn_planted[1]:.3f} "
      f"({knn_planted[2]:.1f} per item) |")
c, w = mem_row(mem_als)
print(f"| memory ALS | coordinator {c * MB:.0f} MB | largest worker {w * MB:.0f} MB | CSR+CSC {sparse * MB:.0f} MB "
      f"+ factors {factors * MB:.0f} MB = {(sparse + factors) * MB:.0f} MB | CSV file {os.path.getsize(csv) * MB:.0f} MB |")
c, w = mem_row(kmem) if kmem else (float("nan"), float("nan"))
print(f"| memory item_knn | coordinator {c * MB:.0f} MB | largest worker {w * MB:.0f} MB |")
print("cohort s/iter:", ["%.3f" % v for v in ch], "numpy s/iter:", ["%.3f" % v for v in npy])
print("ALS peaks (coordinator, workers) MB:", [[round(x * MB) for x in m] for m in mem_als])
print("item_knn walls:", ["%.1f" % v for v in kw], "peaks MB:", [[round(x * MB) for x in m] for m in kmem])
