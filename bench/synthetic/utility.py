#!/usr/bin/python3
"""utility.py: quality, privacy and augmentation of the synthetic generator.

Splits data/churn.csv 80/20 (stratified, seed 0) and runs `cohort run
examples/synthetic.yaml` on the 80% (data.test_fraction 0, so the release
sees only those rows) for several seeds. On the real 20%:

* train-on-synthetic test-on-real: scikit-learn's
  HistGradientBoostingClassifier (the boosted model) trained on (a) the real
  80%, (b) the synthetic rows (the plain rows of data.csv); AUC;
* marginals: per-column total-variation distance between the synthetic rows
  and the real 20% over the model's cells (levels; the release's numeric
  bins, as summary.json test_mean_tv), and over 20 quantile bins of the real
  numeric values (finer than the model's bins); Kolmogorov-Smirnov;
* privacy: exact-match rate (synthetic rows equal to a training row),
  distance to the closest record (DCR: median over synthetic rows of the
  distance to the nearest of 1000 random training rows, and to the nearest
  of the 1000 holdout rows; equal when the release does not favour the
  rows it was fitted on),
  and a distance-based membership-inference attack: score each real row by
  minus its distance to the nearest synthetic row; AUC of telling the 4000
  training rows from the 1000 held-out ones (0.5 = no signal);
* augmentation: the real 80% plus (c) the release's extra churn=yes rows
  (class-conditional, model.augment.rows: 1000), or plus (d) as many SMOTE-NC
  rows (the non-private baseline, k = 5); churn recall and precision at
  threshold 0.5, and the no-churn recall.

Distances: numeric columns scaled by the training rows' standard
deviation, L1; a categorical column adds 1 when the levels differ.
Usage: /usr/bin/python3 bench/synthetic/utility.py [EPSILON] [SEEDS] [KEY=VALUE ...]"""
import csv, json, os, subprocess, sys, tempfile
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score, recall_score, precision_score
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COHORT = os.environ.get("COHORT", os.path.join(ROOT, "build", "cohort"))
EPS = sys.argv[1] if len(sys.argv) > 1 else "1"
SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SETS = sys.argv[3:]  # more `--set` assignments for cohort run, e.g. model.bins=16
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
    return (roc_auc_score(yt, p), recall_score(yt, pred), precision_score(yt, pred, zero_division=0),
            recall_score(1 - yt, 1 - pred))


def full(X, y):
    return np.column_stack([X, y])


def tv_ks(S, T, summary):
    """Per column (features and target): TV over the model's cells, TV over
    20 quantile bins of the real numeric values, KS (numeric)."""
    cols = {c["name"]: c for c in summary["columns"]}
    tv_cells, tv_fine, ks = [], [], []
    for j, name in enumerate(HEAD):
        s, t = S[:, j], T[:, j]
        c = cols[name]
        if name in CAT or name == HEAD[-1]:
            k = int(max(s.max(), t.max())) + 1
            ps = np.bincount(s.astype(int), minlength=k) / len(s)
            pt = np.bincount(t.astype(int), minlength=k) / len(t)
            tv = 0.5 * np.abs(ps - pt).sum()
            tv_cells.append(tv)
            tv_fine.append(tv)
            continue
        lo, hi, b = c["low"], c["high"], c["cells"]
        cell = lambda x: np.clip(np.floor((x - lo) / (hi - lo) * b), 0, b - 1).astype(int)
        ps = np.bincount(cell(s), minlength=b) / len(s)
        pt = np.bincount(cell(t), minlength=b) / len(t)
        tv_cells.append(0.5 * np.abs(ps - pt).sum())
        edges = np.unique(np.quantile(t, np.linspace(0, 1, 21)[1:-1]))
        ps = np.bincount(np.searchsorted(edges, s, side="right"), minlength=len(edges) + 1) / len(s)
        pt = np.bincount(np.searchsorted(edges, t, side="right"), minlength=len(edges) + 1) / len(t)
        tv_fine.append(0.5 * np.abs(ps - pt).sum())
        grid = np.union1d(s, t)
        ks.append(np.max(np.abs(np.searchsorted(np.sort(s), grid, side="right") / len(s) -
                                np.searchsorted(np.sort(t), grid, side="right") / len(t))))
    return np.mean(tv_cells), np.max(tv_cells), np.mean(tv_fine), np.mean(ks)


def nearest(A, B, scale, catmask):
    """Distance from every row of A to its nearest row of B."""
    out = np.empty(len(A))
    for i in range(0, len(A), 256):
        a = A[i:i + 256, None, :]
        d = np.where(catmask, (a != B[None]).astype(float), np.abs(a - B[None]) / scale).sum(axis=2)
        out[i:i + 256] = d.min(axis=1)
    return out


def smote_nc(X, y, n, k, rng, catmask):
    """SMOTE-NC (Chawla et al. 2002) for the minority class 1: n rows, each
    between a random minority row and one of its k nearest minority rows
    (numeric: a uniform point on the segment; categorical: the most common
    level among the k neighbours)."""
    M = X[y == 1]
    Z = M.copy()
    Z[:, ~catmask] = (M[:, ~catmask] - M[:, ~catmask].mean(axis=0)) / M[:, ~catmask].std(axis=0)
    # numeric columns standardised, so the median of their standard
    # deviations (SMOTE-NC's penalty for a differing level) is 1
    D = np.zeros((len(M), len(M)))
    for i in range(len(M)):
        D[i] = np.where(catmask, (Z[i] != Z).astype(float), (Z[i] - Z) ** 2).sum(axis=1)
    np.fill_diagonal(D, np.inf)
    nn = np.argsort(D, axis=1)[:, :k]
    base = rng.integers(0, len(M), n)
    pick = nn[base, rng.integers(0, k, n)]
    gap = rng.random((n, 1))
    out = M[base] + gap * (M[pick] - M[base])
    for j in np.where(catmask)[0]:
        for r in range(n):
            v, c = np.unique(M[nn[base[r]], j], return_counts=True)
            out[r, j] = v[np.argmax(c)]
    return out


HEAD, rows = read(os.path.join(ROOT, "data", "churn.csv"))
HEAD = [h.strip('"') for h in HEAD]
levels = {n: sorted({row[j] for row in rows}) for j, n in enumerate(HEAD) if n in CAT}
train, test = train_test_split(rows, test_size=0.2, random_state=0,
                               stratify=[r[-1] for r in rows])
Xr, yr = encode(HEAD, train, levels)
Xt, yt = encode(HEAD, test, levels)
catmask = np.array([n in CAT for n in HEAD[:-1]] + [True])
Fr, Ft = full(Xr, yr), full(Xt, yt)
scale = np.where(catmask, 1.0, Fr.std(axis=0))
real = fit_eval(Xr, yr, Xt, yt)
print("train-on-real:      AUC %.4f  churn recall %.3f precision %.3f  no-churn recall %.3f" % real)
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
res = {k: [] for k in ("syn", "aug", "smote", "tv", "priv")}
for seed in range(1, SEEDS + 1):
    out = os.path.join(tmp, "run%d" % seed)
    sets = ["data.test_fraction=0", "model.epsilon=" + EPS, "seed=%d" % seed] + SETS
    subprocess.run([COHORT, "run", cfg, "--workers", "2", "--out", out] +
                   [a for kv in sets for a in ("--set", kv)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    h, srows = read(os.path.join(out, "data.csv"))
    n_plain = summary["rows"]
    Xs, ys = encode(h, srows[:n_plain], levels)
    Xa, ya = encode(h, [r for r in srows[n_plain:] if r[-1] == "yes"], levels)
    Fs = full(Xs, ys)
    res["syn"].append(fit_eval(Xs, ys, Xt, yt))
    res["aug"].append(fit_eval(np.vstack([Xr, Xa]), np.concatenate([yr, ya]), Xt, yt))
    rng = np.random.default_rng(seed)
    Xm = smote_nc(Xr, yr, len(Xa), 5, rng, catmask[:-1])
    res["smote"].append(fit_eval(np.vstack([Xr, Xm]), np.concatenate([yr, np.ones(len(Xm))]),
                                 Xt, yt))
    res["tv"].append(tv_ks(Fs, Ft, summary))
    # privacy: the real rows against the synthetic ones
    exact = np.mean([tuple(r) in set(map(tuple, Fr)) for r in Fs])
    # against as many training rows as there are holdout rows, so the two
    # medians compare like with like (private: about equal)
    sub = rng.choice(len(Fr), len(Ft), replace=False)
    dcr_train = np.median(nearest(Fs, Fr[sub], scale, catmask))
    dcr_hold = np.median(nearest(Fs, Ft, scale, catmask))
    d_mem = nearest(Fr, Fs, scale, catmask)
    d_non = nearest(Ft, Fs, scale, catmask)
    mia = roc_auc_score(np.r_[np.ones(len(d_mem)), np.zeros(len(d_non))], -np.r_[d_mem, d_non])
    res["priv"].append((exact, dcr_train, dcr_hold, mia))
    print("seed %d: rows %d; synthetic AUC %.4f; mean TV %.4f (fine %.4f); MIA AUC %.4f; "
          "augmented recall %.3f precision %.3f; SMOTE recall %.3f precision %.3f" %
          (seed, n_plain, res["syn"][-1][0], res["tv"][-1][0], res["tv"][-1][2], mia,
           res["aug"][-1][1], res["aug"][-1][2], res["smote"][-1][1], res["smote"][-1][2]))
med = {k: np.median(np.array(v), axis=0) for k, v in res.items()}
s, a, m, tv, pv = med["syn"], med["aug"], med["smote"], med["tv"], med["priv"]
print("epsilon %s %s, medians over %d seeds:" % (EPS, " ".join(SETS), SEEDS))
print("train-on-synthetic: AUC %.4f (real %.4f, gap %.4f)" % (s[0], real[0], real[0] - s[0]))
print("one-way TV over the model's cells: mean %.4f, max %.4f; over 20 quantile bins: mean %.4f; "
      "mean KS (numeric) %.4f" % tuple(tv))
print("privacy: exact matches %.4f; median DCR to 1000 training rows %.3f, to the 1000 holdout "
      "rows %.3f; membership-inference AUC %.4f" % tuple(pv))
print("churn recall / precision / no-churn recall at 0.5:")
print("  real:                 %.3f / %.3f / %.3f" % real[1:])
print("  real + DP churners:   %.3f / %.3f / %.3f" % tuple(a[1:]))
print("  real + SMOTE-NC rows: %.3f / %.3f / %.3f" % tuple(m[1:]))
print("  AUC real %.4f, +DP %.4f, +SMOTE %.4f" % (real[0], a[0], m[0]))
