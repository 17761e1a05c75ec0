#!/usr/bin/python3
"""peer_torch.py [ROUNDS]: the IID federation of examples/fmnist-fedavg-iid.yaml
in PyTorch (one process): 10 clients of 6000 rows, the 2NN 784-200-200-10,
E=1, B=10, SGD lr 0.05, inputs standardised per pixel, FedAvg weighted by
samples. Prints test accuracy and seconds per round, to compare with cohort's
curve (accuracy per round should agree to within the seeds' spread)."""
import gzip
import sys
import time

import numpy as np
import torch

SRC = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.manual_seed(42)
    torch.set_num_threads(1)
    x = idx(f"{SRC}/train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32)
    y = idx(f"{SRC}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xt = idx(f"{SRC}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32)
    yt = idx(f"{SRC}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mu, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1
    x, xt = (x - mu) / sd, (xt - mu) / sd
    x, y, xt, yt = map(torch.from_numpy, (x, y, xt, yt))
    perm = torch.randperm(len(x))
    clients = perm.chunk(10)
    net = torch.nn.Sequential(torch.nn.Linear(784, 200), torch.nn.ReLU(),
                              torch.nn.Linear(200, 200), torch.nn.ReLU(), torch.nn.Linear(200, 10))
    for r in range(1, rounds + 1):
        t0 = time.time()
        glob = [p.detach().clone() for p in net.parameters()]
        acc = [torch.zeros_like(p) for p in glob]
        for c in clients:
            with torch.no_grad():
                for p, g in zip(net.parameters(), glob):
                    p.copy_(g)
            opt = torch.optim.SGD(net.parameters(), lr=0.05)
            order = c[torch.randperm(len(c))]
            for b in range(0, len(order), 10):
                rows = order[b:b + 10]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(x[rows]), y[rows]).backward()
                opt.step()
            for a, p in zip(acc, net.parameters()):
                a += p.detach() * len(c)
        with torch.no_grad():
            for p, a in zip(net.parameters(), acc):
                p.copy_(a / len(x))
            test = (net(xt).argmax(1) == yt).float().mean().item()
        print(f"round {r}: test accuracy {test:.4f}, {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
