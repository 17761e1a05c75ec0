#!/usr/bin/python3
"""bench_hierarchical.py: cohort hierarchical (ward) vs SciPy linkage and
fastcluster on the digits data (1797 x 64): the same merge heights and
cluster assignments, and time (cohort: its one round, which gathers the rows,
computes the distance matrix, the linkage, the cut and the exact silhouette;
SciPy/fastcluster: linkage from the raw data). Medians of RUNS runs. Run from
the repo root:

    /usr/bin/python3 bench/kmeans/bench_hierarchical.py [build/cohort] [runs]
"""
import csv, json, re, statistics, subprocess, sys, time
import numpy as np
import fastcluster
from scipy.cluster.hierarchy import linkage, fcluster
from sklearn.metrics import adjusted_rand_score

cohort = sys.argv[1] if len(sys.argv) > 1 else "build/cohort"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
rows = list(csv.reader(open("data/digits.csv")))
hdr, rows = rows[0], rows[1:]
ti = hdr.index("target")
X = np.array([[float(v) for j, v in enumerate(r) if j != ti] for r in rows])

def run_cohort():
    out = "/tmp/cohort-bench-ward-run"
    subprocess.run(["rm", "-rf", out], check=True)
    p = subprocess.run([cohort, "run", "bench/kmeans/digits_ward.yaml", "--workers", "2",
                        "--out", out], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("cohort failed: " + p.stderr[-2000:])
    # the round's time from events.jsonl (milliseconds; stderr rounds to 10 ms)
    for line in open(out + "/events.jsonl"):
        e = json.loads(line)
        if e["topic"] == "round.end":
            return float(e["data"]["seconds"])
    sys.exit("cohort wrote no round.end event")

def timed(f):
    t0 = time.time()
    z = f()
    return time.time() - t0, z

c = [run_cohort() for _ in range(runs)]
s = [timed(lambda: linkage(X, "ward")) for _ in range(runs)]
f = [timed(lambda: fastcluster.linkage_vector(X, "ward")) for _ in range(runs)]
fm = [timed(lambda: fastcluster.linkage(X, "ward")) for _ in range(runs)]
Z = np.loadtxt("/tmp/cohort-bench-ward.csv", delimiter=",")
for name, ref in (("scipy", s[0][1]), ("fastcluster.linkage", fm[0][1]),
                  ("fastcluster.linkage_vector", f[0][1])):
    print("%-27s max |merge height difference| %.3g, same merges %s, ARI of the 10-cluster cut %.6f"
          % (name, np.abs(Z[:, 2] - ref[:, 2]).max(), bool((Z[:, [0, 1, 3]] == ref[:, [0, 1, 3]]).all()),
             adjusted_rand_score(fcluster(Z, 10, "maxclust"), fcluster(ref, 10, "maxclust"))))
ct = statistics.median(c)
print("cohort round (gather + distances + NN-chain + cut + silhouette): %.4f s" % ct)
for name, v in (("scipy.linkage", s), ("fastcluster.linkage", fm), ("fastcluster.linkage_vector", f)):
    t = statistics.median(x[0] for x in v)
    print("%-27s %.4f s   cohort / it = %.2f" % (name, t, ct / t))
