#!/usr/bin/python3
"""speed.py: generation speed of `cohort run` with the synthetic generator
against a plain NumPy implementation of the same mechanism (the same
discretisation, one-way and tree-edge counts, Gaussian noise, clipping,
sampling along the same tree, uniform decoding within bins, CSV out).

Both produce N rows of churn-shaped data (N = 1,000,000 by default) as a
CSV file. Medians of R runs each, wall seconds, ratio numpy / cohort.
Usage: /usr/bin/python3 bench/synthetic/speed.py [N] [R]"""
import csv, json, os, subprocess, sys, tempfile, time
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COHORT = os.environ.get("COHORT", os.path.join(ROOT, "build", "cohort"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
R = int(sys.argv[2]) if len(sys.argv) > 2 else 3
tmp = tempfile.mkdtemp()


def run_cohort(i):
    out = os.path.join(tmp, "c%d" % i)
    t = time.time()
    subprocess.run([COHORT, "run", "examples/synthetic.yaml", "--workers", "1", "--out", out,
                    "--set", "model.rows=%d" % N, "--set", "model.augment.rows=0"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time() - t, out


def run_numpy(summary, rng):
    """The mechanism with the domain and tree of a cohort run's summary."""
    t0 = time.time()
    with open(os.path.join(ROOT, "data", "churn.csv")) as f:
        r = csv.reader(f)
        head = [h.strip('"') for h in next(r)]
        rows = list(r)
    cols = {c["name"]: c for c in summary["columns"]}
    cells, decode = [], []
    for j, name in enumerate(head):
        c = cols[name]
        v = [row[j] for row in rows]
        if c["kind"] == "categorical":
            lv = sorted(set(v))
            cells.append(np.array([lv.index(x) for x in v]))
            decode.append(("cat", np.array(lv)))
        else:
            x = np.array(v, dtype=float)
            k = c["cells"]
            b = np.clip(((x - c["low"]) / (c["high"] - c["low"]) * k).astype(int), 0, k - 1)
            cells.append(b)
            decode.append(("num", (c["low"], c["high"], k)))
    size = [int(d[1].size) if d[0] == "cat" else d[1][2] for d in decode]
    idx = {n: j for j, n in enumerate(head)}
    sigma = summary["privacy"]["split"][3]["sigma"]
    edges = [(idx[a], idx[b]) for a, b in summary["tree"]]
    joint = {}
    for a, b in edges:
        t = np.zeros((size[a], size[b]))
        np.add.at(t, (cells[a], cells[b]), 1)
        t = np.clip(t + rng.normal(0, sigma, t.shape), 0, None) + 1e-9
        joint[(a, b)] = t
        joint[(b, a)] = t.T
    one = np.bincount(cells[0], minlength=size[0]) + rng.normal(0, sigma, size[0])
    one = np.clip(one, 0, None) + 1e-9
    # BFS from column 0
    order, parent, seen = [0], {0: -1}, {0}
    q = 0
    while q < len(order):
        u = order[q]
        q += 1
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if x == u and y not in seen:
                    seen.add(y)
                    parent[y] = u
                    order.append(y)
    out = np.zeros((N, len(head)), dtype=np.int64)
    out[:, 0] = rng.choice(size[0], N, p=one / one.sum())
    for j in order[1:]:
        t = joint[(parent[j], j)]
        cdf = np.cumsum(t / t.sum(axis=1, keepdims=True), axis=1)
        u = rng.random(N)
        out[:, j] = (cdf[out[:, parent[j]]] < u[:, None]).sum(axis=1).clip(0, size[j] - 1)
    strs = []
    for j, (kind, d) in enumerate(decode):
        if kind == "cat":
            strs.append(d[out[:, j]])
        else:
            lo, hi, k = d
            v = lo + (out[:, j] + rng.random(N)) * (hi - lo) / k
            strs.append(np.char.mod("%.10g", v))
    path = os.path.join(tmp, "numpy.csv")
    with open(path, "w") as f:
        f.write(",".join(head) + "\n")
        table = np.stack(strs, axis=1)
        f.write("\n".join(",".join(r) for r in table))
        f.write("\n")
    return time.time() - t0


tc, tn = [], []
out = None
for i in range(R):
    s, out = run_cohort(i)
    tc.append(s)
with open(os.path.join(out, "summary.json")) as f:
    summary = json.load(f)
rng = np.random.default_rng(0)
for i in range(R):
    tn.append(run_numpy(summary, rng))
mc, mn = float(np.median(tc)), float(np.median(tn))
print("rows %d, runs %d (2 cores shared with other builds)" % (N, R))
print("cohort run (fit + sample + data.csv + evaluation): %s -> median %.2f s" %
      (["%.2f" % x for x in tc], mc))
print("numpy (fit + sample + csv):                        %s -> median %.2f s" %
      (["%.2f" % x for x in tn], mn))
print("ratio numpy / cohort: %.2f" % (mn / mc))
