# peak.py (shared by the benchmarks): runs a command and prints "WALL_SECONDS PEAK_KB": the wall time
# and the peak of the summed resident memory of the command and all its
# descendants (sampled every 50 ms from /proc), so a run of cohort counts
# its coordinator and its workers together. The command's stdout goes to
# OUT_FILE. usage: peak.py OUT_FILE CMD...
import subprocess
import sys
import time
import psutil

out = open(sys.argv[1], "w")
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT)
root = psutil.Process(p.pid)
peak = 0
while p.poll() is None:
    total = 0
    try:
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        procs = []
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    peak = max(peak, total)
    time.sleep(0.05)
wall = time.perf_counter() - t0
if p.returncode != 0:
    sys.stderr.write("peak.py: %s exited with %d\n" % (sys.argv[2], p.returncode))
    sys.exit(1)
print("%.3f %d" % (wall, peak // 1024))
