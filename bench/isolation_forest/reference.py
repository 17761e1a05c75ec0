#!/usr/bin/python3
"""reference.py: the scikit-learn numbers stored in tests/unit/test_isolation_forest.c.

Run with Debian's python3 (python3-sklearn):  /usr/bin/python3 bench/isolation_forest/reference.py
Prints C initialisers: c(n) values, three exported trees of an IsolationForest
on data/digits.csv (integer pixels, exact in float32) with their scores on
rows 0..19, the AUC and score quantiles on data/breast_cancer.csv over seeds,
and average_precision_score on a small tied example."""
import sys
import numpy as np
import csv
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length
from sklearn.metrics import roc_auc_score, average_precision_score

root = sys.argv[1] if len(sys.argv) > 1 else "."
print("/* scikit-learn", sklearn.__version__, "*/")
ns = [0, 1, 2, 3, 5, 10, 256, 1000, 1000000]
print("c(n):", ", ".join("%.17g" % v for v in _average_path_length(np.array(ns, dtype=float))))

def read(path):
    with open(path) as fh:
        r = list(csv.reader(fh))
    return r[0], r[1:]


h, rows = read(root + "/data/digits.csv")
ti = h.index("target")
X = np.array([[float(v) for i, v in enumerate(r) if i != ti] for r in rows])
f = IsolationForest(n_estimators=3, max_samples=32, random_state=7).fit(X)
for k, (est, feats) in enumerate(zip(f.estimators_, f.estimators_features_)):
    t = est.tree_
    feat = [int(feats[j]) if t.children_left[i] >= 0 else -1 for i, j in enumerate(t.feature)]
    print("tree %d nodes %d" % (k, t.node_count))
    print(" feature:", ", ".join(str(v) for v in feat))
    print(" threshold:", ", ".join("%.17g" % v for v in t.threshold))
    print(" left:", ", ".join(str(v) for v in t.children_left))
    print(" right:", ", ".join(str(v) for v in t.children_right))
    print(" n:", ", ".join(str(v) for v in t.n_node_samples))
print("scores 0..19:", ", ".join("%.17g" % v for v in -f.score_samples(X[:20])))

h, rows = read(root + "/data/breast_cancer.csv")
ti = h.index("target")
y = np.array([r[ti] == "malignant" for r in rows], dtype=float)
Xb = np.array([[float(v) for i, v in enumerate(r) if i != ti] for r in rows])
aucs, q = [], []
for seed in range(40):
    m = IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(Xb)
    s = -m.score_samples(Xb)
    aucs.append(roc_auc_score(y, s))
    q.append([s.mean(), s.std(), *np.quantile(s, [0.1, 0.5, 0.9, 0.99])])
q = np.array(q)
print("breast_cancer AUC mean %.6f sd %.6f min %.6f max %.6f" % (np.mean(aucs), np.std(aucs), min(aucs), max(aucs)))
print("score mean, sd, q10, q50, q90, q99 (means over seeds):", ", ".join("%.6f" % v for v in q.mean(axis=0)))
print("  sd over seeds:", ", ".join("%.6f" % v for v in q.std(axis=0)))
yl = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 0])
sc = np.array([0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.4, 0.1])
print("AP example: auc %.17g ap %.17g" % (roc_auc_score(yl, sc), average_precision_score(yl, sc)))
