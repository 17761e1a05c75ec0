#!/usr/bin/python3
"""tstr.py: train-on-synthetic test-on-real AUC of the boosted model only
(the quick part of utility.py, to compare settings of the generator).

The same split as utility.py (data/churn.csv 80/20, stratified, seed 0);
`cohort run examples/synthetic.yaml` on the 80% per seed; scikit-learn's
HistGradientBoostingClassifier(random_state=0) trained on the plain rows of
data.csv, AUC on the real 20%, against the same model trained on the 80%.
Usage: /usr/bin/python3 bench/synthetic/tstr.py EPSILON SEEDS [KEY=VALUE ...]"""
import json, os, subprocess, sys, tempfile
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
EPS = sys.argv[1] if len(sys.argv) > 1 else "1"
SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SETS = sys.argv[3:]
ROOT = os.path.dirname(os.path.dirname(HERE))
COHORT = os.environ.get("COHORT", os.path.join(ROOT, "build", "cohort"))

import csv
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

CAT = ["state", "area_code", "international_plan", "voice_mail_plan"]


def read(path):
    with open(path) as f:
        r = csv.reader(f)
        head = [h.strip('"') for h in next(r)]
        return head, [row for row in r]


def encode(head, rows, levels):
    X = np.zeros((len(rows), len(head) - 1))
    y = np.array([1 if row[-1] == "yes" else 0 for row in rows])
    for j, name in enumerate(head[:-1]):
        col = [row[j] for row in rows]
        if name in CAT:
            X[:, j] = [levels[name].index(v) if v in levels[name] else -1 for v in col]
        else:
            X[:, j] = [float(v) if v != "" else np.nan for v in col]
    return X, y


def auc(head, X, y, Xt, yt):
    cat = [i for i, n in enumerate(head[:-1]) if n in CAT]
    m = HistGradientBoostingClassifier(random_state=0, categorical_features=cat).fit(X, y)
    return roc_auc_score(yt, m.predict_proba(Xt)[:, 1])


HEAD, rows = read(os.path.join(ROOT, "data", "churn.csv"))
levels = {n: sorted({row[j] for row in rows}) for j, n in enumerate(HEAD) if n in CAT}
train, test = train_test_split(rows, test_size=0.2, random_state=0,
                               stratify=[r[-1] for r in rows])
Xr, yr = encode(HEAD, train, levels)
Xt, yt = encode(HEAD, test, levels)
real = auc(HEAD, Xr, yr, Xt, yt)
tmp = tempfile.mkdtemp()
with open(os.path.join(tmp, "train.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(HEAD)
    w.writerows(train)
cfg = os.path.join(tmp, "syn.yaml")
with open(os.path.join(ROOT, "examples", "synthetic.yaml")) as f:
    text = f.read().replace("../data/churn.csv", os.path.join(tmp, "train.csv"))
with open(cfg, "w") as f:
    f.write(text)
aucs = []
for seed in range(1, SEEDS + 1):
    out = os.path.join(tmp, "run%d" % seed)
    sets = ["data.test_fraction=0", "model.privacy_eval=false", "model.epsilon=" + EPS,
            "seed=%d" % seed] + SETS
    subprocess.run([COHORT, "run", cfg, "--workers", "2", "--out", out] +
                   [a for kv in sets for a in ("--set", kv)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "summary.json")) as f:
        n_plain = json.load(f)["rows"]
    h, srows = read(os.path.join(out, "data.csv"))
    Xs, ys = encode(h, srows[:n_plain], levels)
    aucs.append(auc(HEAD, Xs, ys, Xt, yt))
print("epsilon %s %s: TRTR %.4f  TSTR median %.4f  per seed %s" %
      (EPS, " ".join(SETS) or "(defaults)", real, float(np.median(aucs)),
       ", ".join("%.3f" % a for a in aucs)))
