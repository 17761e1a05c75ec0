# sk.py: scikit-learn's DBSCAN on a CSV; prints clusters, noise, core and
# the fit time, and writes the labels (for the identity check).
# usage: sk.py DATA.csv EPS MIN_SAMPLES LABELS_OUT
import sys
import time
import numpy as np
from sklearn.cluster import DBSCAN

X = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
t0 = time.perf_counter()
m = DBSCAN(eps=float(sys.argv[2]), min_samples=int(sys.argv[3])).fit(X)
t = time.perf_counter() - t0
core = np.zeros(len(X), int)
core[m.core_sample_indices_] = 1
np.savetxt(sys.argv[4], np.column_stack([np.arange(len(X)), m.labels_, core]), fmt="%d",
           delimiter=",", header="row,label,core", comments="")
print("sklearn fit %.3f s, %d clusters, %d noise, %d core" %
      (t, m.labels_.max() + 1, (m.labels_ == -1).sum(), core.sum()))
