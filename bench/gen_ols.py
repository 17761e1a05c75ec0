#!/usr/bin/python3
"""gen_ols.py: writes the OLS benchmark table, y = 1.5 + X b + noise, as CSV.

Fixed seed, so every run of the benchmark reads the same bytes. Columns:
y, x1..xP. X is standard normal, b[j] = (-1)^j * (1 + j/P), the intercept
is 1.5 and the noise is N(0, 0.5^2). Values are written with 6 significant
digits (the file is the data; nobody sees the unrounded X).

usage: /usr/bin/python3 bench/gen_ols.py OUT.csv [--rows N] [--cols P] [--seed S]
"""
import argparse
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20240601)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    p = a.cols
    b = np.array([(-1) ** j * (1.0 + j / p) for j in range(p)])
    tmp = a.out + ".tmp"
    chunk = 100_000
    fmt = ",".join(["%.6g"] * (p + 1))
    with open(tmp, "w") as f:
        f.write(",".join(["y"] + ["x%d" % (j + 1) for j in range(p)]) + "\n")
        done = 0
        while done < a.rows:
            n = min(chunk, a.rows - done)
            x = rng.standard_normal((n, p))
            y = 1.5 + x @ b + rng.normal(0.0, 0.5, n)
            np.savetxt(f, np.column_stack([y, x]), fmt=fmt)
            done += n
    os.replace(tmp, a.out)  # a half-written file never looks finished
    print("wrote %s: %d rows x %d features, %.0f MB"
          % (a.out, a.rows, p, os.path.getsize(a.out) / 1e6), file=sys.stderr)


if __name__ == "__main__":
    main()
