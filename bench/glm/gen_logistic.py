#!/usr/bin/python3
"""gen_logistic.py: the logistic regression benchmark table: N rows of P
(default 20) standard normal features and a 0/1 target drawn from a logistic
model with fixed coefficients (seed 7; P = 20 writes the same bytes as before
P was a parameter). usage: gen_logistic.py OUT.csv [N] [P]"""
import sys

import numpy as np

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
rng = np.random.default_rng(7)
p = int(sys.argv[3]) if len(sys.argv) > 3 else 20
beta = rng.normal(0, 0.5, p)
x = rng.normal(0, 1, (n, p))
eta = -0.5 + x @ beta
y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
with open(out, "w") as f:
    f.write("y," + ",".join("x%d" % (j + 1) for j in range(p)) + "\n")
    np.savetxt(f, np.column_stack([y, x]), fmt=["%d"] + ["%.6g"] * p, delimiter=",")
