#!/usr/bin/python3
"""reference.py: the reference numbers of tests/unit/test_cf.c, from NumPy
(Debian's python3-numpy): Surprise's KNN formulas (similarities over common
raters, KNNBasic / KNNWithMeans / KNNBaseline, baseline ALS) and ALS
iterations from a fixed initialisation, written out directly. Run:
/usr/bin/python3 bench/cf/reference.py"""
import numpy as np

R = [(1,1,5),(1,2,3),(1,3,4),(2,1,4),(2,3,5),(2,4,1),(3,2,2),(3,4,5),(3,5,4),(4,1,1),(4,2,5),
     (4,5,3),(5,1,4),(5,3,3),(5,4,2),(5,5,1),(6,2,4),(6,3,2),(6,5,5)]
nu, ni = 6, 5
M = np.full((nu, ni), np.nan)
for u, i, r in R:
    M[u-1, i-1] = r
mask = ~np.isnan(M)
mu = np.nanmean(M)

def sims(A, kind, min_support=1, shrink=0.0):
    """A: rows x cols with nan; similarity between rows over common cols."""
    n = A.shape[0]
    S = np.zeros((n, n))
    colmean = np.nanmean(A, axis=0)
    for x in range(n):
        for y in range(n):
            if x == y: continue
            c = ~np.isnan(A[x]) & ~np.isnan(A[y])
            f = c.sum()
            if f < min_support or f == 0: continue
            a, b = A[x, c], A[y, c]
            if kind == 'cosine':
                d = np.sqrt((a*a).sum() * (b*b).sum()); s = (a*b).sum()/d if d > 0 else 0
            elif kind == 'adjusted_cosine':
                a = a - colmean[c]; b = b - colmean[c]
                d = np.sqrt((a*a).sum() * (b*b).sum()); s = (a*b).sum()/d if d > 0 else 0
            elif kind == 'pearson':
                num = f*(a*b).sum() - a.sum()*b.sum()
                den = (f*(a*a).sum() - a.sum()**2) * (f*(b*b).sum() - b.sum()**2)
                s = num/np.sqrt(den) if den > 0 else 0
            else:
                s = f / ((~np.isnan(A[x])).sum() + (~np.isnan(A[y])).sum() - f)
            if shrink > 0: s *= (f-1)/(f-1+shrink)
            S[x, y] = s
    return S

def baselines(reg_u=15, reg_i=10, epochs=10):
    bu = np.zeros(nu); bi = np.zeros(ni)
    for _ in range(epochs):
        for i in range(ni):
            us = np.where(mask[:, i])[0]
            bi[i] = (M[us, i] - mu - bu[us]).sum() / (reg_i + len(us))
        for u in range(nu):
            it = np.where(mask[u])[0]
            bu[u] = (M[u, it] - mu - bi[it]).sum() / (reg_u + len(it))
    return bu, bi

def predict(user_based, kind, pred, k, u, i, min_k=1):
    A = M if user_based else M.T
    S = sims(A, kind)
    x, y = (u, i) if user_based else (i, u)
    means = np.nanmean(A, axis=1)
    bu, bi = baselines()
    raters = [x2 for x2 in range(A.shape[0]) if not np.isnan(A[x2, y])]
    nbrs = sorted(raters, key=lambda x2: -S[x, x2])[:k]
    if pred == 'basic': est = mu
    elif pred == 'means': est = means[x]
    else: est = mu + bu[u] + bi[i]
    ss = sr = 0.0; act = 0
    for nb in nbrs:
        s = S[x, nb]
        if s > 0:
            r = A[nb, y]
            ref = 0 if pred == 'basic' else (means[nb] if pred == 'means' else
                  (mu + bu[nb] + bi[i] if user_based else mu + bu[u] + bi[nb]))
            ss += s; sr += s*(r-ref); act += 1
    if act < min_k: return mu if pred == 'basic' else est
    if ss > 0: est = sr/ss if pred == 'basic' else est + sr/ss
    return est

np.set_printoptions(precision=17)
print("mu", repr(mu))
for kind in ['cosine', 'adjusted_cosine', 'pearson', 'jaccard']:
    S = sims(M.T, kind)
    print("item sims", kind, [repr(S[0, j]) for j in range(ni)], repr(S[1, 4]))
    S = sims(M, kind)
    print("user sims", kind, [repr(S[0, j]) for j in range(nu)])
print("shrunk pearson items(0,1) min_support 2 shrink 5:", repr(sims(M.T, 'pearson', 2, 5.0)[0, 1]))
bu, bi = baselines()
print("bu", [repr(v) for v in bu]); print("bi", [repr(v) for v in bi])
for ub in [True, False]:
    for kind in ['cosine', 'pearson']:
        for pred in ['basic', 'means', 'baseline']:
            print("pred", "user" if ub else "item", kind, pred,
                  [repr(predict(ub, kind, pred, 2, u, i)) for (u, i) in [(0, 3), (2, 0), (5, 0), (3, 2)]])

# ALS
f = 2; lam = 0.1
Y0 = np.array([[0.1, -0.2], [0.3, 0.05], [-0.15, 0.25], [0.2, 0.2], [-0.05, -0.3]])

def als_explicit(iters):
    Y = Y0.copy(); bi = np.zeros(ni); X = np.zeros((nu, f)); bu = np.zeros(nu)
    for _ in range(iters):
        for u in range(nu):
            it = np.where(mask[u])[0]
            D = np.hstack([Y[it], np.ones((len(it), 1))])
            t = M[u, it] - mu - bi[it]
            z = np.linalg.solve(D.T @ D + lam*np.eye(f+1), D.T @ t)
            X[u] = z[:f]; bu[u] = z[f]
        for i in range(ni):
            us = np.where(mask[:, i])[0]
            D = np.hstack([X[us], np.ones((len(us), 1))])
            t = M[us, i] - mu - bu[us]
            z = np.linalg.solve(D.T @ D + lam*np.eye(f+1), D.T @ t)
            Y[i] = z[:f]; bi[i] = z[f]
    return X, bu, Y, bi

def cg(A, b, x, steps):
    r = b - A @ x; p = r.copy(); rs = r @ r
    for _ in range(steps):
        if rs < 1e-20: break
        Ap = A @ p; pAp = p @ Ap
        if not pAp > 0: break
        a = rs / pAp; x = x + a*p; r = r - a*Ap; rn = r @ r
        if rn < 1e-20: break
        p = r + rn/rs*p; rs = rn
    return x

def als_implicit(iters, alpha, steps):
    Y = Y0.copy(); X = np.zeros((nu, f))
    C = np.where(mask, 1 + alpha*np.nan_to_num(M), 1.0); P = mask.astype(float)
    for _ in range(iters):
        G = Y.T @ Y
        for u in range(nu):
            A = Y.T @ (C[u][:, None] * Y) + lam*np.eye(f); b = Y.T @ (C[u]*P[u])
            X[u] = cg(A, b, X[u].copy(), steps) if steps else np.linalg.solve(A, b)
        for i in range(ni):
            A = X.T @ (C[:, i][:, None] * X) + lam*np.eye(f); b = X.T @ (C[:, i]*P[:, i])
            Y[i] = cg(A, b, Y[i].copy(), steps) if steps else np.linalg.solve(A, b)
    return X, Y

X, bu, Y, bi = als_explicit(2)
print("als explicit X", [repr(v) for v in X.ravel()]); print("bu", [repr(v) for v in bu])
print("Y", [repr(v) for v in Y.ravel()]); print("bi", [repr(v) for v in bi])
for steps in [1, 0]:
    X, Y = als_implicit(2, 2.0, steps)
    print("als implicit steps", steps, "X", [repr(v) for v in X.ravel()])
    print("Y", [repr(v) for v in Y.ravel()])
