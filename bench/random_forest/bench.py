#!/usr/bin/python3
"""bench.py: random forest: cohort against scikit-learn and ranger, same data,
same run, medians of N repetitions (interleaved), ratios.

  /usr/bin/python3 bench/random_forest/bench.py [--reps 3] [--fmnist] [--cohort build/cohort]

churn: the bundled data/churn.csv split 80/20 (stratified, seed 1) into
bench/out/rf/churn_{train,test}.csv; 100 trees, sqrt features, 2 workers /
2 threads. Fashion-MNIST (--fmnist): the 60,000 x 784 IDX files, 50 trees.
Times: cohort end-to-end (`cohort run`, includes reading the data in every
process) and cohort training (sum of round seconds from events.jsonl);
peers: the fit call only (data already in memory). Peak memory: the largest
process's maximum RSS (getrusage of waited children; for cohort the largest
of coordinator and workers)."""
import argparse, csv, json, os, resource, statistics, subprocess, sys, tempfile, time
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "out", "rf")


def split_churn():
    os.makedirs(OUT, exist_ok=True)
    rows = list(csv.reader(open(os.path.join(ROOT, "data", "churn.csv"))))
    head, data = rows[0], rows[1:]
    y = np.array([r[-1] for r in data])
    rng = np.random.default_rng(1)
    test = np.zeros(len(data), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test[idx[: int(round(0.2 * len(idx)))]] = True
    for name, mask in (("train", ~test), ("test", test)):
        with open(os.path.join(OUT, f"churn_{name}.csv"), "w", newline="") as f:
            w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC if False else csv.QUOTE_MINIMAL)
            w.writerow(head)
            for r, m in zip(data, mask):
                if m:
                    w.writerow(r)
    return head


def run_cohort(cohort, cfg, extra):
    d = tempfile.mkdtemp(prefix="rf-bench-", dir=OUT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.time()
    subprocess.run([cohort, "run", cfg, "--out", d] + extra, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    s = json.load(open(os.path.join(d, "summary.json")))
    train = 0.0
    for line in open(os.path.join(d, "events.jsonl")):
        e = json.loads(line)
        if e["topic"] == "round.end":
            train += e["data"]["seconds"]
    return wall, train, s["metrics"], s.get("oob_score"), rss if rss > before else None


def load_csv(path, target):
    rows = list(csv.reader(open(path)))
    head, data = rows[0], rows[1:]
    cols = list(zip(*data))
    X, names = [], []
    for j, h in enumerate(head):
        if h == target:
            continue
        try:
            X.append(np.array([float(v) for v in cols[j]]))
        except ValueError:  # categorical: one-hot for sklearn
            levels = sorted(set(cols[j]))
            for l in levels[1:]:
                X.append(np.array([v == l for v in cols[j]], float))
    y = np.array([v == "yes" for v in cols[head.index(target)]], int)
    return np.column_stack(X), y


SK_SNIPPET = r"""
import sys, time, json, resource, numpy as np
sys.path.insert(0, %(here)r)
from bench import load_csv, load_fmnist
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
kind = %(kind)r
if kind == "churn":
    X, y = load_csv(%(tr)r, "churn"); Xt, yt = load_csv(%(te)r, "churn")
    n = 100
else:
    X, y, Xt, yt = load_fmnist(); n = 50
t0 = time.time()
m = RandomForestClassifier(n_estimators=n, n_jobs=2, oob_score=(kind == "churn"), random_state=0).fit(X, y)
fit = time.time() - t0
p = m.predict_proba(Xt)
out = {"fit": fit, "acc": float((p.argmax(1) == yt).mean()),
       "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
if kind == "churn":
    out["auc"] = float(roc_auc_score(yt, p[:, 1])); out["oob"] = float(m.oob_score_)
print(json.dumps(out))
"""

R_SNIPPET = r"""
suppressMessages(library(ranger))
kind <- "%(kind)s"
if (kind == "churn") {
  tr <- read.csv("%(tr)s", stringsAsFactors = TRUE); te <- read.csv("%(te)s", stringsAsFactors = TRUE)
  n <- 100
} else {
  rd <- function(img, lab) {
    f <- gzfile(img, "rb"); readBin(f, "integer", 4, endian = "big") -> h
    x <- readBin(f, "integer", h[2] * h[3] * h[4], size = 1, signed = FALSE); close(f)
    f <- gzfile(lab, "rb"); readBin(f, "integer", 2, endian = "big"); y <- readBin(f, "integer", h[2], size = 1, signed = FALSE); close(f)
    d <- as.data.frame(matrix(x, nrow = h[2], byrow = TRUE)); d$label <- factor(y); d }
  p <- "/usr/share/datasets/fashion-mnist/"
  tr <- rd(paste0(p, "train-images-idx3-ubyte.gz"), paste0(p, "train-labels-idx1-ubyte.gz"))
  te <- rd(paste0(p, "t10k-images-idx3-ubyte.gz"), paste0(p, "t10k-labels-idx1-ubyte.gz"))
  n <- 50
}
t0 <- proc.time()[["elapsed"]]
f <- if (kind == "churn") churn ~ . else label ~ .
m <- ranger(f, data = tr, num.trees = n, num.threads = 2, probability = TRUE, seed = 1)
fit <- proc.time()[["elapsed"]] - t0
p <- predict(m, te, num.threads = 2)$predictions
yt <- if (kind == "churn") te$churn else te$label
cls <- colnames(p)[max.col(p, ties.method = "first")]
acc <- mean(cls == as.character(yt))
auc <- NA
if (kind == "churn") {
  s <- p[, "yes"]; pos <- s[yt == "yes"]; neg <- s[yt == "no"]
  r <- rank(c(pos, neg)); auc <- (sum(r[seq_along(pos)]) - length(pos) * (length(pos) + 1) / 2) / (length(pos) * length(neg))
}
num <- function(v) if (is.na(v)) "null" else sprintf("%%.6f", v)
cat(sprintf('{"fit": %%.4f, "acc": %%s, "auc": %%s, "oob": %%s}\n', fit, num(acc), num(auc), num(1 - m$prediction.error)))
"""


def load_fmnist():
    import gzip
    p = "/usr/share/datasets/fashion-mnist/"
    def rd(img, lab):
        b = gzip.open(p + img).read(); n = int.from_bytes(b[4:8], "big")
        X = np.frombuffer(b[16:], np.uint8).reshape(n, 784).astype(np.float32)
        y = np.frombuffer(gzip.open(p + lab).read()[8:], np.uint8).astype(int)
        return X, y
    X, y = rd("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    Xt, yt = rd("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return X, y, Xt, yt


def run_py(kind):
    here = os.path.dirname(os.path.abspath(__file__))
    code = SK_SNIPPET % {"here": here, "kind": kind, "tr": os.path.join(OUT, "churn_train.csv"),
                         "te": os.path.join(OUT, "churn_test.csv")}
    r = subprocess.run(["/usr/bin/python3", "-c", code], check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_r(kind):
    code = R_SNIPPET % {"kind": kind, "tr": os.path.join(OUT, "churn_train.csv"),
                        "te": os.path.join(OUT, "churn_test.csv")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = subprocess.run(["Rscript", "-e", code], check=True, capture_output=True, text=True)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["rss"] = rss if rss > before else None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--fmnist", action="store_true")
    ap.add_argument("--only-fmnist", action="store_true")
    ap.add_argument("--cohort", default=os.path.join(ROOT, "build", "cohort"))
    a = ap.parse_args()
    split_churn()
    cases = [("churn", os.path.join(ROOT, "bench", "random_forest", "churn.yaml"), ["--workers", "2"])]
    if a.only_fmnist:
        cases = []
    if a.fmnist or a.only_fmnist:
        cases.append(("fmnist", os.path.join(ROOT, "examples", "fmnist-rf.yaml"), ["--workers", "2"]))
    for kind, cfg, extra in cases:
        res = {"cohort": [], "sk": [], "ranger": []}
        for rep in range(a.reps):
            order = ["cohort", "sk", "ranger"]
            order = order[rep % 3:] + order[:rep % 3]
            for who in order:
                if who == "cohort":
                    wall, train, met, oob, rss = run_cohort(a.cohort, cfg, extra)
                    res["cohort"].append({"wall": wall, "fit": train, "acc": met.get("test_accuracy"),
                                          "auc": met.get("test_auc"), "oob": oob, "rss": rss})
                elif who == "sk":
                    res["sk"].append(run_py(kind))
                else:
                    res["ranger"].append(run_r(kind))
        med = lambda who, k: statistics.median([r[k] for r in res[who] if r.get(k) is not None]) \
            if any(r.get(k) is not None for r in res[who]) else float("nan")
        print(f"## {kind}: {a.reps} repetitions (medians), 2 cores shared with other builds")
        print("| | train s | end-to-end s | test acc | test AUC | OOB acc | peak RSS MB |")
        print("|---|---|---|---|---|---|---|")
        for who, label in (("cohort", "cohort (2 workers)"), ("sk", "scikit-learn (n_jobs=2)"),
                           ("ranger", "ranger (2 threads)")):
            e2e = med(who, "wall") if who == "cohort" else float("nan")
            rss = med(who, "rss")
            print(f"| {label} | {med(who, 'fit'):.2f} | {e2e:.2f} | {med(who, 'acc'):.4f} | "
                  f"{med(who, 'auc'):.4f} | {med(who, 'oob'):.4f} | {rss / 1024:.0f} |")
        c = med("cohort", "fit")
        print(f"\nratios (training): cohort/ranger {c / med('ranger', 'fit'):.2f}, "
              f"cohort/sklearn {c / med('sk', 'fit'):.2f}; end-to-end cohort/ranger fit "
              f"{med('cohort', 'wall') / med('ranger', 'fit'):.2f}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
