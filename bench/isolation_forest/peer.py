#!/usr/bin/python3
"""peer.py DATA.csv SEED: scikit-learn IsolationForest(n_estimators=100,
max_samples=256, n_jobs=2) fit on all rows and score_samples on all rows;
prints fit+score seconds (the CSV read is timed apart) and the AUC."""
import sys
import time
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

t0 = time.perf_counter()
raw = np.genfromtxt(sys.argv[1], delimiter=",", skip_header=1, dtype=float, usecols=range(10))
lab = np.genfromtxt(sys.argv[1], delimiter=",", skip_header=1, dtype=str, usecols=[10])
t1 = time.perf_counter()
y = lab == "yes"
m = IsolationForest(n_estimators=100, max_samples=256, n_jobs=2, random_state=int(sys.argv[2]))
m.fit(raw)
s = -m.score_samples(raw)
t2 = time.perf_counter()
print("read %.3f fit_score %.3f auc %.6f" % (t1 - t0, t2 - t1, roc_auc_score(y, s)))
