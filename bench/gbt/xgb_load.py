#!/usr/bin/python3
"""xgb_load.py: loads cohort's DIR/xgboost.json with Debian's python3-xgboost
and compares its predictions with `cohort predict` on the same file.

usage: /usr/bin/python3 bench/gbt/xgb_load.py MODEL.json DATA.csv TARGET PREDS.csv
PREDS.csv is cohort predict's output (a prediction column, or predicted +
p_<class> columns). Categorical columns are given to XGBoost as the level
codes cohort uses (levels sorted by byte order). Prints the largest absolute
difference and exits 1 when it is above 1e-5.
"""
import csv
import math
import sys

import numpy as np
import xgboost as xgb


def parse(v):
    if v in ("", "NA", "NaN", "nan"):
        return math.nan
    return float(v)


def main():
    model, data, target, preds = sys.argv[1:5]
    with open(data, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = [j for j, h in enumerate(header) if h != target]
    X = np.empty((len(body), len(cols)))
    for k, j in enumerate(cols):
        vals = [r[j] for r in body]
        try:
            X[:, k] = [parse(v) for v in vals]
        except ValueError:
            levels = sorted(set(v for v in vals if v not in ("", "NA")), key=lambda s: s.encode())
            code = {lv: i for i, lv in enumerate(levels)}
            X[:, k] = [code.get(v, math.nan) for v in vals]
    booster = xgb.Booster()
    booster.load_model(model)
    names = [header[j] for j in cols]
    got = booster.predict(xgb.DMatrix(X, missing=math.nan, feature_names=names))
    with open(preds, newline="") as f:
        p = list(csv.reader(f))
    ph, pb = p[0], p[1:]
    if ph[0] == "prediction":
        want = np.array([[float(r[0])] for r in pb])
    else:
        want = np.array([[float(v) for v in r[1:]] for r in pb])
    got = got.reshape(len(body), -1)
    if want.shape[1] == 2 and got.shape[1] == 1:  # binary: p_yes
        want = want[:, 1:]
    diff = float(np.max(np.abs(got - want)))
    print(f"rows {len(body)}, outputs {got.shape[1]}, max |xgboost - cohort| {diff:.3g}")
    sys.exit(0 if diff <= 1e-5 else 1)


if __name__ == "__main__":
    main()
