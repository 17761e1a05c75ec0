#!/usr/bin/python3
"""bench_ols.py: cohort's exact OLS (`cohort run`, linear, N workers) against
numpy.linalg.lstsq and (with --r) R's lm() on the same CSV, interleaved in one
run on one machine. The number of columns is whatever the CSV has (y first).

Each repetition runs every side once, rotating which goes first, so the
noise of a shared machine falls on all. Reports medians over repetitions and
cohort/peer ratios, and checks that the coefficients agree.

  cohort end-to-end  wall time of `cohort run` as the parent sees it: the
                     coordinator and every worker each parse the whole CSV
  cohort phases      from events.jsonl: launch -> run.start (coordinator
                     reads the CSV), run.start -> round.start (workers join
                     and read the CSV), round.end "seconds" (the fit: local QR
                     on each worker, the tree of QR combines, the solve)
  numpy end-to-end   `import numpy` + np.loadtxt + design matrix + lstsq,
                     timed inside the child (interpreter start-up excluded)
  numpy load / fit   np.loadtxt alone; lstsq alone on the in-memory array
  R end-to-end       wall time of the Rscript process (R start-up included)
  R load / fit       data.table::fread (read.csv if r-cran-data.table is
                     missing) alone; lm(y ~ .) alone, timed inside Rscript

Must run under Debian's /usr/bin/python3 (python3-numpy).

usage: bench_ols.py --cohort BIN --config YAML --csv CSV [--workers 2]
                    [--reps 5] [--work DIR] [--json OUT] [--r]
       bench_ols.py --numpy-child CSV OUT.json      (one numpy side, internal)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def numpy_child(csv, out):
    """One numpy repetition: load, fit, write timings and coefficients."""
    t0 = time.perf_counter()
    import numpy as np

    t1 = time.perf_counter()
    a = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64)
    t2 = time.perf_counter()
    x = np.empty((a.shape[0], a.shape[1]), dtype=np.float64)  # [1, x1..xP]
    x[:, 0] = 1.0
    x[:, 1:] = a[:, 1:]
    y = np.ascontiguousarray(a[:, 0])
    t3 = time.perf_counter()
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    t4 = time.perf_counter()
    # not part of end-to-end: a QR solve, the same method cohort uses
    # (lstsq is LAPACK dgelsd, an SVD, which does more work than a QR)
    r = np.linalg.qr(np.column_stack([x, y]), mode="r")
    p = x.shape[1]
    coef_qr = np.linalg.solve(r[:p, :p], r[:p, p])
    t5 = time.perf_counter()
    res = {
        "import_s": t1 - t0,
        "load_s": t2 - t1,
        "design_s": t3 - t2,
        "fit_s": t4 - t3,
        "qr_fit_s": t5 - t4,
        "e2e_s": t4 - t0,
        "rows": int(a.shape[0]),
        "coef": coef.tolist(),
        "coef_qr": coef_qr.tolist(),
    }
    with open(out, "w") as f:
        json.dump(res, f)


R_CHILD = r"""
a <- commandArgs(TRUE)
t0 <- proc.time()[["elapsed"]]
fr <- suppressWarnings(requireNamespace("data.table", quietly = TRUE))
t1 <- proc.time()[["elapsed"]]
d <- if (fr) as.data.frame(data.table::fread(a[1])) else read.csv(a[1])
t2 <- proc.time()[["elapsed"]]
f <- lm(y ~ ., data = d)
t3 <- proc.time()[["elapsed"]]
cat(sprintf('{"reader": "%s", "pkg_s": %.6f, "load_s": %.6f, "fit_s": %.6f, "rows": %d, "coef": [%s]}',
            if (fr) "data.table::fread" else "read.csv", t1 - t0, t2 - t1, t3 - t2, nrow(d),
            paste(sprintf("%.17g", coef(f)), collapse = ", ")), file = a[2])
"""


def r_once(csv, r_src, out):
    cmd = ["Rscript", r_src, csv, out]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    with open(out) as f:
        r = json.load(f)
    r["e2e_s"] = wall
    return r


def blas_info():
    """Which BLAS/LAPACK numpy really loads (threadpoolctl may be absent)."""
    code = (
        "import numpy, numpy.linalg, re\n"
        "libs = sorted({m.group(0) for m in re.finditer(r'/\\S*(?:blas|lapack)\\S*\\.so\\S*',"
        " open('/proc/self/maps').read())})\n"
        "print(numpy.__version__); print(' '.join(libs))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ver, libs = out.stdout.strip().split("\n", 1)
    return {"numpy": ver, "libs": libs.split()}


def cohort_once(cohort, config, csv, workers, run_dir):
    """One `cohort run`; returns timings, phases and coefficients."""
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [cohort, "run", config, "--workers", str(workers), "--out", run_dir,
           "--set", "data.train=" + csv]
    t_launch = time.time()
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bench_ols: %s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    ev = {}
    fit = 0.0
    with open(os.path.join(run_dir, "events.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            ev.setdefault(e["topic"], e["time"])
            if e["topic"] == "round.end":
                fit += e["data"]["seconds"]
    return {
        "e2e_s": wall,
        "summary_wall_s": summary["wall_seconds"],
        "fit_s": fit,
        "coord_load_s": ev["run.start"] - t_launch,
        "worker_load_s": ev["round.start"] - ev["run.start"],
        "rounds": summary["rounds"],
        "names": [c["name"] for c in summary["coefficients"]],
        "coef": [c["estimate"] for c in summary["coefficients"]],
        "cmd": cmd,
    }


def numpy_once(csv, out):
    cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--numpy-child", csv, out]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    with open(out) as f:
        r = json.load(f)
    r["process_wall_s"] = wall
    return r


def max_rel_diff(a, b):
    return max(abs(x - y) / max(abs(y), 1e-300) for x, y in zip(a, b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--numpy-child", nargs=2, metavar=("CSV", "OUT"))
    ap.add_argument("--cohort")
    ap.add_argument("--config")
    ap.add_argument("--csv")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--work", default="bench/out")
    ap.add_argument("--json")
    ap.add_argument("--r", action="store_true", help="also time R's lm()")
    a = ap.parse_args()
    if a.numpy_child:
        numpy_child(*a.numpy_child)
        return
    if not (a.cohort and a.config and a.csv) or a.reps < 1:
        ap.error("--cohort, --config and --csv are required, --reps >= 1")

    os.makedirs(a.work, exist_ok=True)
    run_dir = os.path.join(a.work, "ols-run")
    np_out = os.path.join(a.work, "ols-numpy.json")
    r_src = os.path.join(a.work, "ols_r_child.R")
    r_out = os.path.join(a.work, "ols-r.json")
    if a.r:
        with open(r_src, "w") as f:
            f.write(R_CHILD)
    sides = ["cohort", "numpy"] + (["R"] if a.r else [])
    cs, ns, rs = [], [], []
    for i in range(a.reps):
        k = i % len(sides)
        for side in sides[k:] + sides[:k]:
            if side == "cohort":
                cs.append(cohort_once(a.cohort, a.config, a.csv, a.workers, run_dir))
            elif side == "numpy":
                ns.append(numpy_once(a.csv, np_out))
            else:
                rs.append(r_once(a.csv, r_src, r_out))
        print("  rep %d/%d: cohort %.2f s (fit %.2f s), numpy %.2f s (lstsq %.2f s)%s, load %s"
              % (i + 1, a.reps, cs[-1]["e2e_s"], cs[-1]["fit_s"], ns[-1]["e2e_s"],
                 ns[-1]["fit_s"],
                 ", R %.2f s (lm %.2f s)" % (rs[-1]["e2e_s"], rs[-1]["fit_s"]) if rs else "",
                 " ".join("%.2f" % v for v in os.getloadavg())), file=sys.stderr)

    expect = ["(Intercept)"] + ["x%d" % (j + 1) for j in range(len(ns[0]["coef"]) - 1)]
    if cs[0]["names"] != expect:
        sys.exit("bench_ols: cohort's coefficients are %s, expected %s"
                 % (cs[0]["names"][:4], expect[:4]))
    rel = max(max_rel_diff(c["coef"], n["coef"]) for c in cs for n in ns)
    rel_qr = max(max_rel_diff(n["coef_qr"], n["coef"]) for n in ns)

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    res = {
        "reps": a.reps,
        "workers": a.workers,
        "rows": ns[0]["rows"],
        "features": len(ns[0]["coef"]) - 1,
        "csv_bytes": os.path.getsize(a.csv),
        "cohort_cmd": " ".join(cs[0]["cmd"][:-1] + ["data.train=CSV"]),
        "env": {k: os.environ.get(k) for k in
                ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                 "OMP_NUM_THREADS")},
        "blas": blas_info(),
        "cohort": {k: med(cs, k) for k in
                   ("e2e_s", "summary_wall_s", "fit_s", "coord_load_s", "worker_load_s")},
        "cohort_range": {k: [min(r[k] for r in cs), max(r[k] for r in cs)] for k in
                         ("e2e_s", "fit_s")},
        "numpy": {k: med(ns, k) for k in
                  ("e2e_s", "process_wall_s", "import_s", "load_s", "design_s", "fit_s",
                   "qr_fit_s")},
        "numpy_range": {k: [min(r[k] for r in ns), max(r[k] for r in ns)] for k in
                        ("e2e_s", "load_s", "fit_s")},
        "max_rel_diff_cohort_vs_lstsq": rel,
        "max_rel_diff_numpy_qr_vs_lstsq": rel_qr,
        "loadavg_end": os.getloadavg(),
    }
    if rs:
        res["R"] = {k: med(rs, k) for k in ("e2e_s", "pkg_s", "load_s", "fit_s")}
        res["R_range"] = {k: [min(r[k] for r in rs), max(r[k] for r in rs)] for k in
                          ("e2e_s", "load_s", "fit_s")}
        res["R_reader"] = rs[0]["reader"]
        res["max_rel_diff_cohort_vs_R"] = max(max_rel_diff(c["coef"], r["coef"])
                                              for c in cs for r in rs)
        res["max_rel_diff_lstsq_vs_R"] = max(max_rel_diff(n["coef"], r["coef"])
                                             for n in ns for r in rs)
    c, n = res["cohort"], res["numpy"]
    res["ratio"] = {
        "e2e": c["e2e_s"] / n["e2e_s"],
        "fit_vs_lstsq": c["fit_s"] / n["fit_s"],
        "fit_vs_numpy_qr": c["fit_s"] / n["qr_fit_s"],
        "coord_load_vs_loadtxt": c["coord_load_s"] / n["load_s"],
    }
    if rs:
        res["ratio"]["e2e_vs_R"] = c["e2e_s"] / res["R"]["e2e_s"]
        res["ratio"]["fit_vs_lm"] = c["fit_s"] / res["R"]["fit_s"]
    text = json.dumps(res, indent=2)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
