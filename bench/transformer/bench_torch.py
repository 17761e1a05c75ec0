# bench_torch.py: the PyTorch side of bench/transformer: the model of
# examples/fmnist-transformer.yaml built from torch's own layers
# (nn.TransformerEncoderLayer(64, 4, 128, dropout=0, activation="gelu",
# batch_first=True, norm_first=True) x 2, final LayerNorm, mean pooling,
# Linear head), Fashion-MNIST as 28 rows of 28 pixels standardised per pixel
# with the first N training images' statistics, Adam 1e-3, batch 128, a
# fresh shuffle per epoch, torch.set_num_threads(THREADS). Prints one JSON
# line. Run with Debian's /usr/bin/python3 (python3-torch).
#   bench_torch.py DATA_DIR THREADS [N_TRAIN] [EPOCHS]
import gzip, json, sys, time
import numpy as np
import torch


def load(d, name):
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (d, name)) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float64)
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (d, name)) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


class Net(torch.nn.Module):
    def __init__(self, L=28, d_in=28, D=64, H=4, layers=2, F=128, K=10):
        super().__init__()
        self.inp = torch.nn.Linear(d_in, D)
        self.pos = torch.nn.Parameter(torch.randn(L, D) * 0.02)
        self.blocks = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(D, H, F, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True)
            for _ in range(layers)])
        self.norm = torch.nn.LayerNorm(D)
        self.head = torch.nn.Linear(D, K)

    def forward(self, x):
        h = self.inp(x) + self.pos
        for b in self.blocks:
            h = b(h)
        return self.head(self.norm(h).mean(1))


d, threads = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.set_num_threads(threads)
torch.manual_seed(42)
x, y = load(d, "train")
x, y = x[:n], y[:n]
xt, yt = load(d, "t10k")
mean, sd = x.mean(0), x.std(0)
sd[sd < 1e-12] = 1
x = torch.tensor((x - mean) / sd, dtype=torch.float32).reshape(-1, 28, 28)
xt = torch.tensor((xt - mean) / sd, dtype=torch.float32).reshape(-1, 28, 28)
y, yt = torch.tensor(y), torch.tensor(yt)
net = Net()
net.train()
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
net.eval()
t0 = time.perf_counter()
with torch.no_grad():
    acc = sum((net(xt[i:i + 256]).argmax(1) == yt[i:i + 256]).sum().item()
              for i in range(0, xt.shape[0], 256)) / xt.shape[0]
eval_s = time.perf_counter() - t0
print(json.dumps({"threads": threads, "n_train": n, "epochs": epochs,
                  "parameters": sum(p.numel() for p in net.parameters()),
                  "train_seconds": round(train_s, 3), "eval_seconds": round(eval_s, 3),
                  "test_accuracy": round(acc, 4), "torch": torch.__version__}))
