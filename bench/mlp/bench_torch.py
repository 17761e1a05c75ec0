# bench_torch.py: the PyTorch side of bench/mlp: Fashion-MNIST, 784-256-128-10
# ReLU MLP, Adam 1e-3, batch 128 with a fresh shuffle per epoch, inputs
# standardised per pixel (the statistics cohort uses), torch.set_num_threads.
# Prints one JSON line. Run with Debian's /usr/bin/python3 (python3-torch).
import gzip, json, sys, time
import numpy as np
import torch


def load(d, name):
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (d, name)) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float64)
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (d, name)) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


d, threads = sys.argv[1], int(sys.argv[2])
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
torch.set_num_threads(threads)
torch.manual_seed(42)
x, y = load(d, "train")
xt, yt = load(d, "t10k")
mean, sd = x.mean(0), x.std(0)
sd[sd < 1e-12] = 1
x = torch.tensor((x - mean) / sd, dtype=torch.float32)
xt = torch.tensor((xt - mean) / sd, dtype=torch.float32)
y, yt = torch.tensor(y), torch.tensor(yt)
net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                          torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
lossf = torch.nn.CrossEntropyLoss()
t0 = time.perf_counter()
for e in range(epochs):
    perm = torch.randperm(x.shape[0])
    for b in range(0, x.shape[0], 128):
        idx = perm[b:b + 128]
        opt.zero_grad()
        loss = lossf(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
train_s = time.perf_counter() - t0
with torch.no_grad():
    acc = (net(xt).argmax(1) == yt).float().mean().item()
print(json.dumps({"threads": threads, "epochs": epochs, "train_seconds": round(train_s, 3),
                  "test_accuracy": round(acc, 4), "torch": torch.__version__}))
