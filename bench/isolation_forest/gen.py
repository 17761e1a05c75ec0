#!/usr/bin/python3
"""gen.py ROWS OUT.csv: a table with planted anomalies for the isolation
forest benchmark: 10 numeric columns, 99% of rows from a correlated
Gaussian, 1% uniform in a box of +-6 (label column anomaly = yes/no)."""
import sys
import numpy as np

n = int(sys.argv[1])
rng = np.random.default_rng(7)
p = 10
a = rng.normal(size=(p, p)) / np.sqrt(p)
x = rng.normal(size=(n, p)) @ a
k = n // 100
idx = rng.choice(n, size=k, replace=False)
x[idx] = rng.uniform(-6, 6, size=(k, p))
y = np.zeros(n, dtype=bool)
y[idx] = True
with open(sys.argv[2], "w") as f:
    f.write(",".join("x%d" % j for j in range(p)) + ",anomaly\n")
    lab = np.where(y, "yes", "no")
    for i in range(n):
        f.write(",".join("%.6g" % v for v in x[i]) + "," + lab[i] + "\n")
