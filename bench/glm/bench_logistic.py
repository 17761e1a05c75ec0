#!/usr/bin/python3
"""bench_logistic.py: cohort's distributed logistic regression (`cohort run`,
IRLS, N workers) against scikit-learn's LogisticRegression(penalty=None,
solver="newton-cholesky") and R's glm(family = binomial) on the same CSV,
interleaved in one run on one machine (each repetition runs every side once).

  cohort e2e   wall time of `cohort run` (coordinator and workers each parse
               the CSV, then the IRLS rounds)
  cohort fit   the sum of round.end "seconds" in events.jsonl (all rounds)
  sklearn      np.loadtxt (load) and .fit (fit), timed inside the child
  R            data.table::fread (read.csv if r-cran-data.table is missing,
               or with --r-read-csv) (load) and glm (fit), timed inside Rscript

The number of features is whatever the CSV has (y first).

Reports medians, the cohort/peer ratios, and the largest relative
coefficient difference to each peer. Must run under /usr/bin/python3.

usage: bench_logistic.py --cohort BIN --config YAML --csv CSV [--workers 2]
                         [--reps 3] [--work DIR] [--no-r] [--r-read-csv]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

SK_CHILD = r"""
import json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
t0 = time.perf_counter()
a = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
t1 = time.perf_counter()
m = LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-10, max_iter=100)
m.fit(a[:, 1:], a[:, 0])
t2 = time.perf_counter()
json.dump({"load_s": t1 - t0, "fit_s": t2 - t1, "iter": int(m.n_iter_[0]),
           "coef": [float(m.intercept_[0])] + [float(v) for v in m.coef_[0]]}, open(sys.argv[2], "w"))
"""

R_CHILD = r"""
a <- commandArgs(TRUE)
fr <- a[3] != "read.csv" && suppressWarnings(requireNamespace("data.table", quietly = TRUE))
t0 <- proc.time()[["elapsed"]]
d <- if (fr) as.data.frame(data.table::fread(a[1])) else read.csv(a[1])
t1 <- proc.time()[["elapsed"]]
f <- glm(y ~ ., data = d, family = binomial)
t2 <- proc.time()[["elapsed"]]
cat(sprintf('{"reader": "%s", "load_s": %.6f, "fit_s": %.6f, "iter": %d, "coef": [%s]}',
            if (fr) "data.table::fread" else "read.csv", t1 - t0, t2 - t1,
            f$iter, paste(sprintf("%.17g", coef(f)), collapse = ", ")), file = a[2])
"""


def cohort_once(cohort, config, csv, workers, run_dir):
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [cohort, "run", config, "--workers", str(workers), "--out", run_dir,
           "--set", "data.train=" + csv]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bench_logistic: %s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    with open(os.path.join(run_dir, "summary.json")) as f:
        s = json.load(f)
    fit = 0.0
    with open(os.path.join(run_dir, "events.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["topic"] == "round.end":
                fit += e["data"]["seconds"]
    return {"e2e_s": wall, "fit_s": fit, "rounds": s["rounds"],
            "iter": s["fit"]["fisher_iterations"],
            "coef": [c["estimate"] for c in s["coefficients"]], "cmd": " ".join(cmd)}


def child_once(argv, out):
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    wall = time.perf_counter() - t0
    with open(out) as f:
        r = json.load(f)
    r["e2e_s"] = wall
    return r


def max_rel(a, b):
    return max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cohort", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", default="bench/out")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--r-read-csv", action="store_true",
                    help="R reads with read.csv even if data.table is installed")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    sk_py = os.path.join(a.work, "logit_sk_child.py")
    r_src = os.path.join(a.work, "logit_r_child.R")
    open(sk_py, "w").write(SK_CHILD)
    open(r_src, "w").write(R_CHILD)
    rows = {"cohort": [], "sklearn": [], "R": []}
    for rep in range(a.reps):
        sides = ["cohort", "sklearn"] + ([] if a.no_r else ["R"])
        if rep % 2:
            sides.reverse()
        for side in sides:
            if side == "cohort":
                r = cohort_once(a.cohort, a.config, a.csv, a.workers,
                                os.path.join(a.work, "logit-run"))
            elif side == "sklearn":
                out = os.path.join(a.work, "logit-sk.json")
                r = child_once(["/usr/bin/python3", sk_py, a.csv, out], out)
            else:
                out = os.path.join(a.work, "logit-r.json")
                r = child_once(["Rscript", r_src, a.csv, out,
                                "read.csv" if a.r_read_csv else "auto"], out)
            rows[side].append(r)
            print("rep %d %-8s e2e %.2f s fit %.2f s  load average %s"
                  % (rep, side, r["e2e_s"], r["fit_s"],
                     " ".join("%.2f" % v for v in os.getloadavg())), file=sys.stderr)
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("e2e_s", "fit_s")}
           for k, v in rows.items() if v}
    c = med["cohort"]
    res = {"workers": a.workers, "reps": a.reps, "cmd": rows["cohort"][0]["cmd"], "median": med,
           "cohort_iter": rows["cohort"][0]["iter"], "features": len(rows["cohort"][0]["coef"]) - 1,
           "range": {k: {m: [min(r[m] for r in v), max(r[m] for r in v)] for m in ("e2e_s", "fit_s")}
                     for k, v in rows.items() if v},
           "loadavg_end": os.getloadavg()}
    if rows["R"]:
        res["R_reader"] = rows["R"][0]["reader"]
        res["R_load_s_median"] = statistics.median(r["load_s"] for r in rows["R"])
    res["sklearn_load_s_median"] = statistics.median(r["load_s"] for r in rows["sklearn"])
    for peer in ("sklearn", "R"):
        if peer in med:
            res[peer] = {
                "ratio_e2e": c["e2e_s"] / med[peer]["e2e_s"],
                "ratio_fit": c["fit_s"] / med[peer]["fit_s"],
                "iter": rows[peer][0]["iter"],
                "max_rel_coef_diff": max(max_rel(c_["coef"], p_["coef"])
                                         for c_ in rows["cohort"] for p_ in rows[peer]),
            }
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
