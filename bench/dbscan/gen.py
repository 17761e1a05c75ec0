# gen.py: N points in D dimensions for the DBSCAN benchmark, fixed seed:
# 5 Gaussian blobs (sd 0.5) and 10% uniform noise in [-10, 10]^2, the 2-D
# set; for D > 2 that set is embedded in D dimensions by a fixed random
# orthonormal D x 2 matrix, every coordinate then gets independent Gaussian
# jitter with sd 0.005 (so no point lies exactly on the plane). The data are
# 10-dimensional with intrinsic dimension about 2, as real data tend to be:
# with full-dimensional 10-D Gaussian blobs of 180,000 points each, an eps
# ball that finds neighbours covers much of a blob and every k-d tree
# (cohort's, scikit-learn's, R's ANN) examines most of it for each query
# (BENCHMARKS.md, dbscan). With MODE "full" (set blobs10g) the blobs are
# full-dimensional instead, as scikit-learn's make_blobs(n_features=D) makes
# them: K = round(0.9 N / 3000) centres (300 at N = 1,000,000: blobs of
# about 3,000 points, so that a k-d tree query examines little more than
# its own blob) drawn uniformly in [-10, 10]^D, every blob point
# centre + N(0, 0.5^2) in each of the D coordinates, and 10% uniform noise
# in [-10, 10]^D. Coordinates are written with 6 decimals, so every
# program reads the same numbers.
# usage: gen.py N OUT.csv [D [full]]
import sys
import numpy as np

n = int(sys.argv[1])
d = int(sys.argv[3]) if len(sys.argv) > 3 else 2
full = len(sys.argv) > 4 and sys.argv[4] == "full"
rng = np.random.default_rng(7)
if full:
    k = n - n // 10
    nc = max(1, round(k / 3000))
    centres = rng.uniform(-10, 10, (nc, d))
    x = centres[rng.integers(0, nc, k)] + 0.5 * rng.standard_normal((k, d))
    pts = np.vstack([x, rng.uniform(-10, 10, (n - k, d))])
    rng.shuffle(pts)
    np.savetxt(sys.argv[2], pts, fmt="%.6f", delimiter=",",
               header=",".join("x%d" % j for j in range(d)), comments="")
    sys.exit(0)
centres = np.array([[-6, -5], [-2, 4], [3, -1], [6, 6], [0, 0]], float)
k = n - n // 10
x = centres[rng.integers(0, 5, k)] + 0.5 * rng.standard_normal((k, 2))
noise = rng.uniform(-10, 10, (n - k, 2))
pts = np.vstack([x, noise])
rng.shuffle(pts)
if d > 2:
    q, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    pts = pts @ q.T + 0.005 * rng.standard_normal((n, d))
header = "x,y" if d == 2 else ",".join("x%d" % j for j in range(d))
np.savetxt(sys.argv[2], pts, fmt="%.6f", delimiter=",", header=header, comments="")
