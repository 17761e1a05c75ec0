# gen.py: n 2-D points for the DBSCAN benchmark: 5 Gaussian blobs (sd 0.5)
# and 10% uniform noise in [-10, 10]^2, fixed seed. usage: gen.py N OUT.csv
import sys
import numpy as np

n = int(sys.argv[1])
rng = np.random.default_rng(7)
centres = np.array([[-6, -5], [-2, 4], [3, -1], [6, 6], [0, 0]], float)
k = n - n // 10
x = centres[rng.integers(0, 5, k)] + 0.5 * rng.standard_normal((k, 2))
noise = rng.uniform(-10, 10, (n - k, 2))
pts = np.vstack([x, noise])
rng.shuffle(pts)
np.savetxt(sys.argv[2], pts, fmt="%.6f", delimiter=",", header="x,y", comments="")
