#!/usr/bin/python3
"""numpy_peer.py ENV [SECONDS]: epsilon-greedy Q-learning rollouts on the same
environment as cohort's qlearning (FrozenLake 4x4 slippery, or the default
pricing market), written the straightforward NumPy way, two variants:
  loop:  one episode at a time, one step at a time (numpy RNG and Q table);
  batch: 4096 episodes stepped together (vectorised env step and epsilon-
         greedy; a pair's updates within a step averaged with np.bincount).
Prints environment steps per second for each (one core)."""
import sys
import time

import numpy as np
from scipy.stats import poisson

rng = np.random.default_rng(1)


def lake_env():
    desc = "SFFFFHFHFFFHHFFG"
    n, S, A = 4, 16, 4
    nxt = np.zeros((S, A, 3), dtype=np.int64)
    for s in range(S):
        r, c = divmod(s, n)
        for a in range(A):
            for j, b in enumerate(((a - 1) % 4, a, (a + 1) % 4)):
                rr, cc = r, c
                if b == 0: cc = max(c - 1, 0)
                elif b == 1: rr = min(r + 1, n - 1)
                elif b == 2: cc = min(c + 1, n - 1)
                else: rr = max(r - 1, 0)
                nxt[s, a, j] = rr * n + cc
    goal = np.array([ch == "G" for ch in desc])
    term = np.array([ch in "HG" for ch in desc])
    def step(s, a, u):
        s2 = nxt[s, a, (u * 3).astype(np.int64)]
        return s2, goal[s2].astype(float), term[s2]
    return S, A, 100, lambda m: np.zeros(m, dtype=np.int64), step


def pricing_env(T=20, X=40, prices=(20, 25, 30, 35, 40), base=2.5, el=2.0, comp=30.0, hold=0.5,
                salvage=5.0, factors=(0.8, 1.25), trans=((0.85, 0.15), (0.25, 0.75))):
    K = len(factors)
    P = np.array(trans)
    pr = np.array(prices, dtype=float)
    lam = base * np.array(factors)[:, None] * (pr[None, :] / comp) ** (-el)  # K x A
    S = T * (X + 1) * K + 1
    def enc(t, x, k):
        return ((t - 1) * (X + 1) + x) * K + k
    def step(s, a, u):
        k = s % K
        x = (s // K) % (X + 1)
        t = s // K // (X + 1) + 1
        d = np.minimum(rng.poisson(lam[k, a]), x)
        left = x - d
        r = pr[a] * d - hold * left + (t == 1) * salvage * left
        k2 = (u >= P[k, 0]).astype(np.int64) if K == 2 else k
        done = t == 1
        s2 = np.where(done, S - 1, enc(np.maximum(t - 1, 1), left, k2))
        return s2, r, done
    return S, len(prices), T, lambda m: np.full(m, enc(T, X, 0), dtype=np.int64), step


def batch(env, seconds, m=4096, eps=0.1, alpha=0.1):
    S, A, H, start, step = env
    Q = np.zeros((S, A))
    steps = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = start(m)
        alive = np.ones(m, dtype=bool)
        for _ in range(H):
            idx = np.nonzero(alive)[0]
            if idx.size == 0:
                break
            ss = s[idx]
            greedy = Q[ss].argmax(axis=1)
            explore = rng.random(idx.size) < eps
            a = np.where(explore, rng.integers(0, A, idx.size), greedy)
            s2, r, done = step(ss, a, rng.random(idx.size))
            target = r + np.where(done, 0.0, Q[s2].max(axis=1))
            flat = ss * A + a  # the updates of a pair within a step are averaged
            sums = np.bincount(flat, weights=target - Q.flat[flat], minlength=S * A)
            cnt = np.bincount(flat, minlength=S * A)
            Q += (alpha * sums / np.maximum(cnt, 1)).reshape(S, A)
            s[idx] = s2
            alive[idx[done]] = False
            steps += idx.size
    return steps / (time.perf_counter() - t0)


def loop(env, seconds, eps=0.1, alpha=0.1):
    S, A, H, start, step = env
    Q = np.zeros((S, A))
    steps = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = start(1)
        for _ in range(H):
            a = rng.integers(0, A, 1) if rng.random() < eps else Q[s].argmax(axis=1)
            s2, r, done = step(s, a, rng.random(1))
            target = r[0] + (0.0 if done[0] else Q[s2[0]].max())
            Q[s[0], a[0]] += alpha * (target - Q[s[0], a[0]])
            steps += 1
            if done[0]:
                break
            s = s2
    return steps / (time.perf_counter() - t0)


if __name__ == "__main__":
    name = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    env = lake_env() if name == "frozenlake" else pricing_env()
    print("batch %.0f" % batch(env, secs))
    print("loop %.0f" % loop(env, secs))
