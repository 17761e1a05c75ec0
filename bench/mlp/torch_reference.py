# torch_reference.py: prints the PyTorch numbers stored in tests/unit/test_mlp_torch.c.
# Run once with Debian's python3-torch: /usr/bin/python3 bench/mlp/torch_reference.py
# Inputs come from closed formulas (sin/cos of the index) that the C test
# recomputes, so only the outputs are stored.
import math
import torch

torch.set_default_dtype(torch.float32)


def f(n, a, b, s=1.0, cosine=False):
    g = math.cos if cosine else math.sin
    return torch.tensor([s * g(a * i + b) for i in range(n)], dtype=torch.float32)


def emit(name, t):
    v = t.detach().reshape(-1).tolist()
    print("static const double %s[%d] = {%s};" % (name, len(v), ", ".join("%.9g" % x for x in v)))


# dense: n=3, in=4, out=5
x = f(12, 0.37, 0.1).reshape(3, 4).requires_grad_()
w = f(20, 0.91, 0.2, 0.5).reshape(5, 4).requires_grad_()
b = f(5, 1.3, 0.0, 0.1, True).requires_grad_()
dy = f(15, 0.53, 0.4, 1.0, True).reshape(3, 5)
y = torch.nn.functional.linear(x, w, b)
y.backward(dy)
emit("ref_dense_y", y)
emit("ref_dense_dx", x.grad)
emit("ref_dense_dw", w.grad)
emit("ref_dense_db", b.grad)

# activations on 12 values
for name, fn in [("relu", torch.relu), ("gelu", torch.nn.GELU()), ("tanh", torch.tanh),
                 ("sigmoid", torch.sigmoid)]:
    xa = f(12, 0.77, 0.5, 2.5).requires_grad_()
    ya = fn(xa)
    ya.backward(f(12, 0.53, 0.4, 1.0, True))
    emit("ref_%s_y" % name, ya)
    emit("ref_%s_dx" % name, xa.grad)

# layer norm: n=3, d=5
xl = f(15, 0.83, 0.3, 2.0).reshape(3, 5).requires_grad_()
ln = torch.nn.LayerNorm(5, eps=1e-5)
with torch.no_grad():
    ln.weight.copy_(1 + f(5, 1.0, 0.0, 0.2))
    ln.bias.copy_(f(5, 1.0, 0.0, 0.1, True))
yl = ln(xl)
yl.backward(f(15, 0.53, 0.4, 1.0, True).reshape(3, 5))
emit("ref_ln_y", yl)
emit("ref_ln_dx", xl.grad)
emit("ref_ln_dgamma", ln.weight.grad)
emit("ref_ln_dbeta", ln.bias.grad)

# losses
z = f(12, 0.61, 0.2, 2.0).reshape(4, 3).requires_grad_()
lab = torch.tensor([0, 2, 1, 2])
l = torch.nn.functional.cross_entropy(z, lab, reduction="sum")
l.backward()
emit("ref_xent_loss", l.reshape(1))
emit("ref_xent_dz", z.grad)
zb = f(5, 1.1, 0.3, 3.0).requires_grad_()
yb = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
lb = torch.nn.functional.binary_cross_entropy_with_logits(zb, yb, reduction="sum")
lb.backward()
emit("ref_bce_loss", lb.reshape(1))
emit("ref_bce_dz", zb.grad)
zm = f(5, 0.9, 0.1, 2.0).requires_grad_()
ym = f(5, 0.4, 0.7, 1.0, True)
lm = torch.nn.functional.mse_loss(zm, ym, reduction="sum")
lm.backward()
emit("ref_mse_loss", lm.reshape(1))
emit("ref_mse_dz", zm.grad)

# optimizers: 6 parameters, gradient at step t (1-based) g[i] = cos(0.7 i + 0.3 t)
opts = [
    ("sgd", lambda p: torch.optim.SGD([p], lr=0.1, weight_decay=0.01)),
    ("momentum", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("nesterov", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True,
                                           weight_decay=0.01)),
    ("adam", lambda p: torch.optim.Adam([p], lr=0.01, weight_decay=0.01)),
    ("adamw", lambda p: torch.optim.AdamW([p], lr=0.01, weight_decay=0.1)),
]
for name, mk in opts:
    p = f(6, 0.5, 0.1, 0.3).requires_grad_()
    o = mk(p)
    hist = []
    for t in range(1, 4):
        p.grad = f(6, 0.7, 0.3 * t, 1.0, True)
        o.step()
        hist.append(p.detach().clone())
    emit("ref_opt_%s" % name, torch.stack(hist))

# network 4 -> 5 (layer norm, gelu) -> 3, softmax cross-entropy summed over 3 rows,
# then two Adam steps (lr 0.01) on the mean gradient of the same batch.
xn = f(12, 0.37, 0.1).reshape(3, 4)
yn = torch.tensor([2, 0, 1])
l0 = torch.nn.Linear(4, 5)
lnn = torch.nn.LayerNorm(5)
l1 = torch.nn.Linear(5, 3)
with torch.no_grad():
    l0.weight.copy_(f(20, 0.91, 0.2, 0.5).reshape(5, 4))
    l0.bias.copy_(f(5, 1.3, 0.0, 0.1, True))
    lnn.weight.copy_(1 + f(5, 1.0, 0.0, 0.2))
    lnn.bias.copy_(f(5, 1.0, 0.0, 0.1, True))
    l1.weight.copy_(f(15, 0.67, 0.5, 0.6).reshape(3, 5))
    l1.bias.copy_(f(3, 0.8, 0.9, 0.1))
params = [l0.weight, l0.bias, lnn.weight, lnn.bias, l1.weight, l1.bias]
net = lambda t: l1(torch.nn.functional.gelu(lnn(l0(t))))
loss = torch.nn.functional.cross_entropy(net(xn), yn, reduction="sum")
loss.backward()
emit("ref_net_loss", loss.reshape(1))
emit("ref_net_grad", torch.cat([p.grad.reshape(-1) for p in params]))
opt = torch.optim.Adam(params, lr=0.01)
for step in range(2):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(xn), yn, reduction="mean")
    loss.backward()
    opt.step()
emit("ref_net_after2", torch.cat([p.detach().reshape(-1) for p in params]))
