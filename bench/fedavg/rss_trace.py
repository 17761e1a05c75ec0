#!/usr/bin/python3
"""rss_trace.py: the coordinator's resident memory through a run.

rss_trace.py sample PID TRACE: writes "wall_time rss_kib" lines to TRACE,
VmRSS from /proc/PID/status every 10 ms, until PID exits.
rss_trace.py report TRACE EVENTS [DELAY_MS]: reads TRACE and the run's
events.jsonl, and prints the RSS before round 0, and for each round its RSS
at the start, its peak and when. With DELAY_MS (the workers held every task
that long: run.sh memory DELAY=...), also the peak while the tasks were being
sent and nothing could have come back (the first DELAY_MS - 200 ms) and the
peak after (updates arriving). Used for BENCHMARKS.md's fedavg memory
table."""
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


def report(trace_path, events_path, delay_ms):
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
        if delay_ms > 0 and rnd > 0:
            cut = t0 + (delay_ms - 200) / 1000
            send = max(r for t, r in win if t < cut)
            recv = max((r for t, r in win if t >= cut), default=float("nan"))
            print(f"  sending (first {delay_ms - 200} ms): peak {send:.0f} KiB "
                  f"(+{send - win[0][1]:.0f}); updates arriving: peak {recv:.0f} KiB "
                  f"(+{recv - win[0][1]:.0f})")
    print(f"overall peak {max(r for _, r in trace):.0f} KiB")


if sys.argv[1] == "sample":
    sample(int(sys.argv[2]), sys.argv[3])
else:
    report(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
