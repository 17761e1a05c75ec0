# torch_reference.py: prints the PyTorch numbers stored in
# tests/unit/test_transformer_torch.c.
# Run with Debian's python3-torch:
#   /usr/bin/python3 bench/transformer/torch_reference.py > /tmp/ref.h
# The model is PyTorch's own nn.TransformerEncoderLayer(d_model, heads, d_ff,
# dropout=0, activation="gelu", batch_first=True, norm_first=True) stacked,
# with src_key_padding_mask, a final nn.LayerNorm, masked mean pooling (or a
# class token) and an nn.Linear head. Its parameters are filled from one flat
# vector laid out as cohort's encoder.c lays them out; the flat vector, the
# inputs and the labels are closed formulas (sin of the index) that the C
# test recomputes, so only the outputs are stored.
import math
import torch

torch.set_default_dtype(torch.float32)


def flat_init(n, gains):
    w = torch.tensor([0.4 * math.sin(0.37 * i + 0.1) for i in range(n)], dtype=torch.float32)
    for a, b in gains:  # layer-norm gains: 1 + the formula
        w[a:b] += 1.0
    return w


def build(L, d_in, D, H, layers, F, K, pool, pos):
    lay = {}
    n = 0

    def take(name, k):
        nonlocal n
        lay[name] = (n, n + k)
        n += k

    take("in_w", D * d_in)
    take("in_b", D)
    if pool == "cls":
        take("cls", D)
    if pos == "learned":
        take("pos", L * D)
    for l in range(layers):
        for nm, k in [("ln1_g", D), ("ln1_b", D), ("wqkv", 3 * D * D), ("bqkv", 3 * D),
                      ("wo", D * D), ("bo", D), ("ln2_g", D), ("ln2_b", D), ("w1", F * D),
                      ("b1", F), ("w2", D * F), ("b2", D)]:
            take("%d.%s" % (l, nm), k)
    take("lnf_g", D)
    take("lnf_b", D)
    take("head_w", K * D)
    take("head_b", K)
    gains = [v for k, v in lay.items() if k.endswith("_g")]
    return lay, n, gains


class Net(torch.nn.Module):
    def __init__(self, L, d_in, D, H, layers, F, K, pool, pos):
        super().__init__()
        self.pool, self.pos_kind, self.L, self.D = pool, pos, L, D
        self.inp = torch.nn.Linear(d_in, D)
        self.cls = torch.nn.Parameter(torch.zeros(D)) if pool == "cls" else None
        self.pos = torch.nn.Parameter(torch.zeros(L, D)) if pos == "learned" else None
        self.blocks = torch.nn.ModuleList([
            torch.nn.TransformerEncoderLayer(D, H, F, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True)
            for _ in range(layers)])
        self.norm = torch.nn.LayerNorm(D, eps=1e-5)
        self.head = torch.nn.Linear(D, K)

    def tensors(self):
        """(layout name, parameter) pairs in cohort's order."""
        out = [("in_w", self.inp.weight), ("in_b", self.inp.bias)]
        if self.cls is not None:
            out.append(("cls", self.cls))
        if self.pos is not None:
            out.append(("pos", self.pos))
        for l, b in enumerate(self.blocks):
            out += [("%d.ln1_g" % l, b.norm1.weight), ("%d.ln1_b" % l, b.norm1.bias),
                    ("%d.wqkv" % l, b.self_attn.in_proj_weight),
                    ("%d.bqkv" % l, b.self_attn.in_proj_bias),
                    ("%d.wo" % l, b.self_attn.out_proj.weight),
                    ("%d.bo" % l, b.self_attn.out_proj.bias),
                    ("%d.ln2_g" % l, b.norm2.weight), ("%d.ln2_b" % l, b.norm2.bias),
                    ("%d.w1" % l, b.linear1.weight), ("%d.b1" % l, b.linear1.bias),
                    ("%d.w2" % l, b.linear2.weight), ("%d.b2" % l, b.linear2.bias)]
        out += [("lnf_g", self.norm.weight), ("lnf_b", self.norm.bias),
                ("head_w", self.head.weight), ("head_b", self.head.bias)]
        return out

    def forward(self, x, mask):
        h = self.inp(x)
        if self.pos is not None:
            h = h + self.pos
        elif self.pos_kind == "sinusoidal":
            pe = torch.zeros(self.L, self.D)
            for p in range(self.L):
                for i in range(0, self.D, 2):
                    f = math.exp(-math.log(10000.0) * i / self.D)
                    pe[p, i] = math.sin(p * f)
                    pe[p, i + 1] = math.cos(p * f)
            h = h + pe
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], 1, -1), h], 1)
            mask = torch.cat([torch.ones(h.shape[0], 1, dtype=torch.bool), mask], 1)
        for b in self.blocks:
            h = b(h, src_key_padding_mask=~mask)
        h = self.norm(h)
        if self.cls is not None:
            pooled = h[:, 0]
        else:
            m = mask.float().unsqueeze(-1)
            pooled = (h * m).sum(1) / m.sum(1)
        return self.head(pooled)


def emit(name, t):
    v = t.detach().reshape(-1).tolist()
    print("static const double %s[%d] = {%s};" % (name, len(v), ", ".join("%.9g" % x for x in v)))


def case(tag, L, d_in, D, H, layers, F, K, pool, pos, adam_steps):
    lay, n, gains = build(L, d_in, D, H, layers, F, K, pool, pos)
    net = Net(L, d_in, D, H, layers, F, K, pool, pos)
    net.train()
    flat = flat_init(n, gains)
    with torch.no_grad():
        for name, p in net.tensors():
            a, b = lay[name]
            p.copy_(flat[a:b].reshape(p.shape))
    N = 3
    x = torch.tensor([0.8 * math.sin(0.53 * i + 0.4) for i in range(N * L * d_in)]).reshape(
        N, L, d_in)
    mask = torch.tensor([[p < L - s for p in range(L)] for s in range(N)])  # s padding positions
    x = x * mask.unsqueeze(-1).float()
    y = torch.tensor([s % K for s in range(N)])
    z = net(x, mask)
    loss = torch.nn.functional.cross_entropy(z, y, reduction="sum")
    loss.backward()
    grad = torch.zeros(n)
    for name, p in net.tensors():
        a, b = lay[name]
        grad[a:b] = p.grad.reshape(-1)
    emit("ref_%s_logits" % tag, z)
    emit("ref_%s_loss" % tag, loss.reshape(1))
    emit("ref_%s_grad" % tag, grad)
    if adam_steps:
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        for _ in range(adam_steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x, mask), y, reduction="mean").backward()
            opt.step()
        after = torch.zeros(n)
        with torch.no_grad():
            for name, p in net.tensors():
                a, b = lay[name]
                after[a:b] = p.reshape(-1)
        emit("ref_%s_after2" % tag, after)


print("/* torch %s */" % torch.__version__)
# A: two blocks, learned positions, mean pooling over padded sequences, 2 Adam steps
case("a", L=4, d_in=3, D=8, H=2, layers=2, F=12, K=3, pool="mean", pos="learned", adam_steps=2)
# B: one block, sinusoidal positions, class token
case("b", L=5, d_in=2, D=8, H=4, layers=1, F=6, K=3, pool="cls", pos="sinusoidal", adam_steps=0)
