#!/usr/bin/python3
"""utility.py: train-on-synthetic, test-on-real for the synthetic generator.

Splits data/churn.csv 80/20 (stratified, seed 0), runs `cohort run
examples/synthetic.yaml` on the 80% (test_fraction 0, so the release sees
only those rows) for several seeds, and trains scikit-learn's
HistGradientBoostingClassifier on (a) the real 80%, (b) the synthetic rows,
(c) the real 80% plus the synthetic churn=yes rows (augmentation); all are
tested on the real 20%: AUC, and churn recall/precision at threshold 0.5.
Usage: /usr/bin/python3 bench/synthetic/utility.py [EPSILON] [SEEDS]"""
import csv, os, subprocess, sys, tempfile
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score, recall_score, precision_score
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COHORT = os.environ.get("COHORT", os.path.join(ROOT, "build-synthetic", "cohort"))
EPS = sys.argv[1] if len(sys.argv) > 1 else "1"
SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CAT = ["state", "area_code", "international_plan", "voice_mail_plan"]


def read(path):
    with open(path) as f:
        r = csv.reader(f)
        head = next(r)
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


def fit_eval(X, y, Xt, yt):
    cat = [i for i, n in enumerate(HEAD[:-1]) if n in CAT]
    m = HistGradientBoostingClassifier(random_state=0, categorical_features=cat)
    m.fit(X, y)
    p = m.predict_proba(Xt)[:, 1]
    pred = (p >= 0.5).astype(int)
    return roc_auc_score(yt, p), recall_score(yt, pred), precision_score(yt, pred, zero_division=0)


HEAD, rows = read(os.path.join(ROOT, "data", "churn.csv"))
HEAD = [h.strip('"') for h in HEAD]
levels = {n: sorted({row[j] for row in rows}) for j, n in enumerate(HEAD) if n in CAT}
train, test = train_test_split(rows, test_size=0.2, random_state=0,
                               stratify=[r[-1] for r in rows])
Xr, yr = encode(HEAD, train, levels)
Xt, yt = encode(HEAD, test, levels)
real = fit_eval(Xr, yr, Xt, yt)
print("train-on-real:      AUC %.4f  churn recall %.3f precision %.3f" % real)
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
res = {"syn": [], "aug": []}
for seed in range(1, SEEDS + 1):
    out = os.path.join(tmp, "run%d" % seed)
    subprocess.run([COHORT, "run", cfg, "--workers", "2", "--out", out, "--set",
                    "data.test_fraction=0", "--set", "model.epsilon=" + EPS, "--set",
                    "seed=%d" % seed], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    h, srows = read(os.path.join(out, "data.csv"))
    n_plain = len(Xr)
    Xs, ys = encode(h, srows[:n_plain], levels)
    Xa, ya = encode(h, [r for r in srows[n_plain:] if r[-1] == "yes"], levels)
    res["syn"].append(fit_eval(Xs, ys, Xt, yt))
    res["aug"].append(fit_eval(np.vstack([Xr, Xa]), np.concatenate([yr, ya]), Xt, yt))
    print("seed %d: synthetic AUC %.4f; augmented AUC %.4f recall %.3f precision %.3f" %
          (seed, res["syn"][-1][0], *res["aug"][-1]))
s = np.median(np.array(res["syn"]), axis=0)
a = np.median(np.array(res["aug"]), axis=0)
print("epsilon %s, medians over %d seeds:" % (EPS, SEEDS))
print("train-on-synthetic: AUC %.4f  churn recall %.3f precision %.3f" % tuple(s))
print("real + synthetic churners: AUC %.4f  churn recall %.3f precision %.3f" % tuple(a))
print("AUC gap (real - synthetic): %.4f" % (real[0] - s[0]))
