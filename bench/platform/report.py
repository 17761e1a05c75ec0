#!/usr/bin/python3
"""report.py: the table of bench/platform/run.sh from the JSON lines it left
in DIR (rate.jsonl, bus.jsonl, ols.jsonl, replay.json). Medians over runs,
[min..max] in brackets.

usage: report.py DIR
"""
import json
import os
import statistics
import sys


def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def med(xs):
    return statistics.median(xs)


def rng(xs, fmt):
    return "[" + fmt.format(min(xs)) + ".." + fmt.format(max(xs)) + "]"


def main():
    d = sys.argv[1]
    rate = lines(os.path.join(d, "rate.jsonl"))
    bus = lines(os.path.join(d, "bus.jsonl"))
    ols = lines(os.path.join(d, "ols.jsonl"))
    with open(os.path.join(d, "replay.json")) as f:
        rep = json.load(f)

    print("### 1. Metric logging into the tracking store (points/s, all writers together)\n")
    print("| writers | call | points per writer | points/s | lost (counted after) | runs |")
    print("|---:|---|---:|---:|---:|---:|")
    groups = {}
    for r in rate:
        groups.setdefault((r["writers"], r["batch"]), []).append(r)
    for (w, b), rs in sorted(groups.items()):
        call = "ch_track_metric (1 per call)" if b == 1 else "ch_track_metrics, %d per call" % b
        ps = [r["points_per_s"] for r in rs]
        lost = sum(r["lost"] for r in rs) + sum(r["expected"] - r["counted"] for r in rs)
        print("| %d | %s | %d | %s %s | %d of %d | %d |" % (
            w, call, rs[0]["points_per_writer"], format(round(med(ps)), ","),
            rng([round(p) for p in ps], "{:,}"), lost, sum(r["expected"] for r in rs), len(rs)))

    print("\n### 2. Event bus: ch_events_emit burst, SUB subscriber in another thread\n")
    print("| transport | sink | burst | published/s | received/s | arrived | runs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    groups = {}
    for r in bus:
        groups.setdefault((r["transport"], r["store"], r["events"]), []).append(r)
    for (t, st, n), rs in sorted(groups.items()):
        pub = [r["published_per_s"] for r in rs]
        rcv = [r["received_per_s"] for r in rs]
        arr = [r["arrived_fraction"] for r in rs]
        print("| %s | %s | %s | %s %s | %s %s | %.1f%% %s | %d |" % (
            t, "events.jsonl + tracking store" if st else "events.jsonl", format(n, ","),
            format(round(med(pub)), ","), rng([round(p) for p in pub], "{:,}"),
            format(round(med(rcv)), ","), rng([round(p) for p in rcv], "{:,}"),
            100 * med(arr), rng([100 * a for a in arr], "{:.1f}%"), len(rs)))
    bad = sum(r["bad"] for r in bus)
    jl = all(r["jsonl_lines"] == r["events"] + r["warmups"] for r in bus)
    print("\nUndecodable messages: %d; events.jsonl had every event in every run: %s." % (
        bad, "yes" if jl else "NO"))

    print("\n### 3. Tracking on the OLS benchmark (1,000,000 x 50, 2 workers)\n")
    on = [r["wall_s"] for r in ols if r["tracking"]]
    off = [r["wall_s"] for r in ols if not r["tracking"]]
    # pairs in the order they ran
    seq_on = [r["wall_s"] for r in ols if r["tracking"]]
    seq_off = [r["wall_s"] for r in ols if not r["tracking"]]
    ratios = [a / b for a, b in zip(seq_on, seq_off)]
    print("| measure | value |")
    print("|---|---:|")
    print("| cohort run, runtime.tracking=true (median of %d) | %.2f s %s |" % (
        len(on), med(on), rng(on, "{:.2f}")))
    print("| cohort run, runtime.tracking=false (median of %d) | %.2f s %s |" % (
        len(off), med(off), rng(off, "{:.2f}")))
    print("| ratio of medians, on / off | **%.3f** |" % (med(on) / med(off)))
    print("| per-pair ratio on / off (median [min..max]) | %.3f %s |" % (
        med(ratios), rng(ratios, "{:.3f}")))
    ev = sorted({r["events"] for r in ols if r["tracking"]})
    print("| events per run (events.jsonl) | %s |" % ", ".join(map(str, ev)))
    print("| one run's store traffic replayed (%d params, %d events, %d metric points, "
          "%d artifacts), median of %d | **%.1f ms** (max %.1f) |" % (
              rep["params"], rep["events"], rep["metrics"], rep["artifacts"], rep["reps"],
              rep["store_total_ms"], rep["store_total_ms_max"]))
    for k in ("open", "run_begin", "params", "events", "metrics", "artifacts", "end_close"):
        print("| &nbsp;&nbsp;%s | %.3f ms |" % (k, rep[k + "_ms"]))
    print("| the same events through ch_events (PUB + events.jsonl), median | %.3f ms |" % (
        rep["bus_total_ms"]))
    share = (rep["store_total_ms"] + rep["bus_total_ms"]) / 1e3 / med(off)
    print("| store + bus / median tracking-off wall time | **%.2f%%** |" % (100 * share))


if __name__ == "__main__":
    main()
