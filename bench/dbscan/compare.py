# compare.py: two row,cluster,core files against each other: adjusted Rand
# index over all points (noise as its own label, as in the issue), whether
# the noise sets are identical, whether the core sets are identical (n/a
# when a file has core -1), and whether the files are byte-identical or the
# cluster numbers alone are identical.
# usage: compare.py A.csv B.csv
import sys
import numpy as np
from sklearn.metrics import adjusted_rand_score

a = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, dtype=np.int64)
b = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1, dtype=np.int64)
ari = adjusted_rand_score(a[:, 1], b[:, 1])
same_noise = bool(np.array_equal(a[:, 1] == -1, b[:, 1] == -1))
unknown = (a[:, 2] == -1).all() or (b[:, 2] == -1).all()  # R: no core flags
same_core = bool(np.array_equal(a[:, 2], b[:, 2]))
same = bool(np.array_equal(a, b))
core = "n/a" if unknown else ("same" if same_core else "DIFFERS")
same_labels = bool(np.array_equal(a[:, 1], b[:, 1]))
print("ARI %.6f, noise %s, core %s%s" % (ari, "same" if same_noise else "DIFFERS", core,
                                         ", byte-identical" if same else
                                         (", same numbers" if same_labels else "")))
