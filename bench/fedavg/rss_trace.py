#!/usr/bin/python3
"""rss_trace.py: the coordinator's resident memory through a run.

rss_trace.py sample PID TRACE: writes "wall_time rss_kib" lines to TRACE,
VmRSS from /proc/PID/status every 10 ms, until PID exits.
rss_trace.py report TRACE EVENTS: reads TRACE and the run's events.jsonl, and
prints the RSS at the start (after the workers joined), the peak of each
round and where in the round it was: between round.start and the first
moment the RSS falls back (tasks queued for sending) or later (updates
arriving). Used for BENCHMARKS.md's fedavg memory table."""
import json
import sys
import time


def sample(pid, path):
    with open(path, "w") as out:
        while True:
            try:
                with open(f"/proc/{pid}/status") as f:
                    rss = next(l.split()[1] for l in f if l.startswith("VmRSS"))
            except (OSError, StopIteration):
                return
            out.write(f"{time.time():.3f} {rss}\n")
            time.sleep(0.01)


def report(trace_path, events_path):
    trace = [tuple(map(float, l.split())) for l in open(trace_path) if l.strip()]
    ev = [json.loads(l) for l in open(events_path)]
    starts = {e["data"]["round"]: e["time"] for e in ev if e["topic"] == "round.start"}
    ends = {e["data"]["round"]: e["time"] for e in ev if e["topic"] == "round.end"}
    first = min(starts.values())
    before = [r for t, r in trace if t < first]
    print(f"before round 0: {before[-1] if before else float('nan'):.0f} KiB")
    for rnd in sorted(starts):
        t0, t1 = starts[rnd], ends.get(rnd, float("inf"))
        win = [(t, r) for t, r in trace if t0 <= t <= t1 + 0.05]
        if not win:
            continue
        tp, rp = max(win, key=lambda x: x[1])
        print(f"round {rnd}: start {win[0][1]:.0f} KiB, peak {rp:.0f} KiB at +{tp - t0:.3f} s "
              f"of {t1 - t0:.3f} s, end {win[-1][1]:.0f} KiB")
    print(f"overall peak {max(r for _, r in trace):.0f} KiB")


if sys.argv[1] == "sample":
    sample(int(sys.argv[2]), sys.argv[3])
else:
    report(sys.argv[2], sys.argv[3])
