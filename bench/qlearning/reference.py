#!/usr/bin/python3
"""reference.py: independent exact optima (NumPy/SciPy) for the qlearning
tests: backward induction on the pricing market written from the model's
definition (scipy.stats.poisson for demand), and on Gymnasium's toy-text
dynamics re-implemented here. Run with Debian's /usr/bin/python3; the numbers
it prints are stored in tests/unit/test_qlearning.c."""
import numpy as np
from scipy.stats import poisson


def pricing(T=20, X=40, prices=(20, 25, 30, 35, 40), base=2.5, el=2.0, comp=30.0, hold=0.5,
            salvage=5.0, factors=(0.8, 1.25), trans=((0.85, 0.15), (0.25, 0.75)), k0=0, gamma=1.0):
    K = len(factors)
    P = np.array(trans, dtype=float)
    V = np.zeros((X + 1, K))  # value with t-1 periods left
    for t in range(1, T + 1):
        W = np.full((X + 1, K), -np.inf)
        for x in range(X + 1):
            for k in range(K):
                for p in prices:
                    lam = base * factors[k] * (p / comp) ** (-el)
                    d = np.arange(x + 1)
                    pd = poisson.pmf(d, lam)
                    pd[x] = poisson.sf(x - 1, lam) if x > 0 else 1.0
                    left = x - d
                    r = p * d - hold * left
                    if t == 1:
                        r = r + salvage * left
                        q = np.dot(pd, r)
                    else:
                        cont = V[left, :] @ P[k]
                        q = np.dot(pd, r + gamma * cont)
                    W[x, k] = max(W[x, k], q)
        V = W
    return V[X, k0]


def lake(desc, H, gamma=1.0, slippery=True):
    n = len(desc)
    S = n * n
    def move(s, a):
        r, c = divmod(s, n)
        if a == 0: c = max(c - 1, 0)
        elif a == 1: r = min(r + 1, n - 1)
        elif a == 2: c = min(c + 1, n - 1)
        else: r = max(r - 1, 0)
        return r * n + c
    V = np.zeros(S)
    for _ in range(H):
        W = np.zeros(S)
        for s in range(S):
            ch = desc[s // n][s % n]
            if ch in "HG":
                continue
            best = -np.inf
            for a in range(4):
                q = 0.0
                for b in ([(a - 1) % 4, a, (a + 1) % 4] if slippery else [a]):
                    s2 = move(s, b)
                    c2 = desc[s2 // n][s2 % n]
                    p = 1 / 3 if slippery else 1.0
                    q += p * ((c2 == "G") + (0 if c2 in "HG" else gamma * V[s2]))
                best = max(best, q)
            W[s] = best
        V = W
    return V[0]


def cliff(H, gamma=1.0):
    V = np.zeros(48)
    for _ in range(H):
        W = np.zeros(48)
        for s in range(48):
            if s == 47:
                continue
            best = -np.inf
            for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
                r = min(max(s // 12 + dr, 0), 3)
                c = min(max(s % 12 + dc, 0), 11)
                if r == 3 and 1 <= c <= 10:
                    q = -100 + gamma * V[36]
                else:
                    s2 = r * 12 + c
                    q = -1 + (0 if s2 == 47 else gamma * V[s2])
                best = max(best, q)
            W[s] = best
        V = W
    return V[36]


def taxi(H, gamma=1.0):
    desc = ["+---------+", "|R: | : :G|", "| : | : : |", "| : : : : |", "| | : | : |",
            "|Y| : |B: |", "+---------+"]
    locs = [(0, 0), (0, 4), (4, 0), (4, 3)]
    enc = lambda r, c, p, d: ((r * 5 + c) * 5 + p) * 4 + d
    trans = {}
    for r in range(5):
        for c in range(5):
            for p in range(5):
                for d in range(4):
                    s = enc(r, c, p, d)
                    out = []
                    for a in range(6):
                        r2, c2, p2, rew, done = r, c, p, -1, False
                        if a == 0: r2 = min(r + 1, 4)
                        elif a == 1: r2 = max(r - 1, 0)
                        elif a == 2 and desc[1 + r][2 * c + 2] == ":": c2 = min(c + 1, 4)
                        elif a == 3 and desc[1 + r][2 * c] == ":": c2 = max(c - 1, 0)
                        elif a == 4:
                            if p < 4 and (r, c) == locs[p]: p2 = 4
                            else: rew = -10
                        elif a == 5:
                            if (r, c) == locs[d] and p == 4: p2, done, rew = d, True, 20
                            elif (r, c) in locs and p == 4: p2 = locs.index((r, c))
                            else: rew = -10
                        out.append((enc(r2, c2, p2, d), rew, done))
                    trans[s] = out
    V = np.zeros(500)
    for _ in range(H):
        W = np.array([max(rew + (0 if done else gamma * V[s2]) for s2, rew, done in trans[s])
                      for s in range(500)])
        V = W
    starts = [enc(r, c, p, d) for r in range(5) for c in range(5) for p in range(4)
              for d in range(4) if p != d]
    return np.mean(V[starts])


if __name__ == "__main__":
    print("pricing default %.15g" % pricing())
    print("pricing small   %.15g" % pricing(T=5, X=6, prices=(10, 20, 30), factors=(1.0,),
                                             trans=((1.0,),), base=1.5, el=1.5, comp=20,
                                             hold=1.0, salvage=2.0))
    print("pricing gamma.9 %.15g" % pricing(gamma=0.9))
    m4 = ["SFFF", "FHFH", "FFFH", "HFFG"]
    m8 = ["SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF",
          "FFFHFFFG"]
    print("frozenlake 4x4 H=100 %.15g" % lake(m4, 100))
    print("frozenlake 8x8 H=200 %.15g" % lake(m8, 200))
    print("cliffwalking H=200 %.15g" % cliff(200))
    print("taxi H=200 %.15g" % taxi(200))
