# sk.py: scikit-learn's DBSCAN on a CSV (every column but TARGET, if given);
# prints the fit time, clusters, noise and core points, and writes
# row,cluster,core as cohort's assignments.csv does (for the identity check).
# usage: sk.py DATA.csv EPS MIN_SAMPLES LABELS_OUT [TARGET]
import sys
import time
import numpy as np
from sklearn.cluster import DBSCAN

with open(sys.argv[1]) as f:
    names = [c.strip('"') for c in f.readline().strip().split(",")]
cols = [j for j, c in enumerate(names) if len(sys.argv) <= 5 or c != sys.argv[5]]
X = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, usecols=cols, ndmin=2)
t0 = time.perf_counter()
m = DBSCAN(eps=float(sys.argv[2]), min_samples=int(sys.argv[3])).fit(X)
t = time.perf_counter() - t0
core = np.zeros(len(X), int)
core[m.core_sample_indices_] = 1
np.savetxt(sys.argv[4], np.column_stack([np.arange(len(X)), m.labels_, core]), fmt="%d",
           delimiter=",", header="row,cluster,core", comments="")
print("fit_seconds %.3f clusters %d noise %d core %d" %
      (t, m.labels_.max() + 1, (m.labels_ == -1).sum(), core.sum()))
