# PyTorch anchor for the FedSeg benchmarks (docs/measured.md §10 CPU against PyTorch): the reference
# U-Net of docs/algorithms.md §3 (same widths, depth, InstanceNorm, ReLU, nearest upsampling, sigmoid head,
# same weight names and parameter count as core/models/unet.ts), the FedAvg step (Dice, backward, Adam)
# and the first-order ELCFS step of §4-5 (inner Dice gradient, theta' = theta - beta * clip(g), meta Dice on
# the CFSI view + gamma * boundary NT-Xent), inference, and one 3x3 conv, timed on the CPU with a given
# thread count. It is the same work FedSeg's rows do, so the ratio in a table is measured, not assumed.
#
# A worker: bench/anchor.ts starts it once and sends one JSON command per line on stdin; every reply is
# one JSON line on stdout. Keeping one process lets the bench alternate FedSeg and PyTorch samples
# (machine noise then hits both) without paying torch's import for every sample.
#   {"op":"setup","threads":N,"inChannels":3,"classes":2,"baseWidth":16,"depth":5,"shapes":[{"name","shape"(HWIO)}]}
#   {"op":"data","b":5,"h":128,"w":128,"x":b64 f32 NHWC,"views":[b64...],"y":b64 f32 NHWC,"regions":b64 f32 [B,R,HW],"present":[...]}
#   {"op":"time","what":"fedavg"|"elcfs"|"infer"|"conv_fwd"|"conv_fwdbwd","runs":k,"warmup":w,"size":384}
#   {"op":"quit"}
# Replies: {"ok":true,...} or {"ok":false,"error":"..."}.
import base64
import json
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # the bench shows its fixed fallback anchor, labelled, when this fails
    print(json.dumps({"ok": False, "error": f"import failed: {type(e).__name__}: {e}"}), flush=True)
    sys.exit(3)

IN_EPS = 1e-5
DICE_EPS = 1e-5
BETA = 1e-3
CLIP = 100.0
GAMMA = 0.1
TAU = 0.05


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def weight_shapes(cin, classes, base, depth):
    """Names and OIHW shapes, in the order of core/models/unet.ts unetWeightShapes."""
    out = []

    def conv(name, k, ci, co):
        out.append((f"{name}.weight", [co, ci, k, k]))
        out.append((f"{name}.bias", [co]))

    w = lambda i: base * 2 ** (i - 1)
    for i in range(1, depth + 1):
        ci = cin if i == 1 else w(i - 1)
        conv(f"convd{i}.conv1", 3, ci, w(i))
        conv(f"convd{i}.conv2", 3, w(i), w(i))
        conv(f"convd{i}.conv3", 3, w(i), w(i))
    for j in range(depth - 1, 0, -1):
        p = base * 2 ** j
        if j != depth - 1:
            conv(f"convu{j}.conv1", 3, 2 * p, p)
        conv(f"convu{j}.conv2", 1, p, p // 2)
        conv(f"convu{j}.conv3", 3, p, p)
    conv("seg1", 1, 2 * base, classes)
    return out


class UNet:
    """Functional U-Net: forward(params, x) so the meta step runs the same code with theta and theta'."""

    def __init__(self, cin, classes, base, depth, seed=1):
        g = torch.Generator().manual_seed(seed)
        self.depth = depth
        self.names = []
        self.params = {}
        for name, shape in weight_shapes(cin, classes, base, depth):
            if name.endswith(".weight"):
                fan_out = shape[0] * shape[2] * shape[3]
                t = torch.randn(shape, generator=g) * (2.0 / fan_out) ** 0.5
            else:
                wshape = next(s for n, s in weight_shapes(cin, classes, base, depth) if n == name[:-5] + ".weight")
                bound = 1.0 / (wshape[1] * wshape[2] * wshape[3]) ** 0.5
                t = (torch.rand(shape, generator=g) * 2 - 1) * bound
            self.names.append(name)
            self.params[name] = t.requires_grad_(True)

    def count(self):
        return sum(p.numel() for p in self.params.values())

    def forward(self, P, x):
        def conv(name, h):
            w = P[name + ".weight"]
            return F.conv2d(h, w, P[name + ".bias"], padding=w.shape[-1] // 2)

        def cin(name, h):  # conv -> IN (the reference adds the bias; IN removes it, torch computes it anyway)
            return F.instance_norm(conv(name, h), eps=IN_EPS)

        skips = []
        h = x
        for i in range(1, self.depth + 1):
            if i > 1:
                h = F.max_pool2d(h, 2)
            h = cin(f"convd{i}.conv1", h)
            h = F.relu(cin(f"convd{i}.conv2", h))
            h = F.relu(cin(f"convd{i}.conv3", h))
            skips.append(h)
        y = skips[-1]
        for j in range(self.depth - 1, 0, -1):
            if j != self.depth - 1:
                y = F.relu(cin(f"convu{j}.conv1", y))
            up = F.interpolate(y, scale_factor=2, mode="nearest")
            u = F.relu(cin(f"convu{j}.conv2", up))
            y = torch.cat([skips[j - 1], u], 1)
            y = F.relu(cin(f"convu{j}.conv3", y))
        return torch.sigmoid(conv("seg1", y)), y


def dice_loss(s, y):
    inter = (s * y).sum(dim=(0, 2, 3))
    d = (2 * inter + DICE_EPS) / (s.sum(dim=(0, 2, 3)) + y.sum(dim=(0, 2, 3)) + DICE_EPS)
    return 1 - d.mean()


def nt_xent(emb, labels):
    e = F.normalize(emb, dim=1)
    s = e @ e.t() / TAU
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    pos = same & ~eye
    if pos.sum() == 0 or (~same).sum() == 0:
        return s.sum() * 0
    neg_lse = torch.logsumexp(s.masked_fill(same, -1e30), dim=1, keepdim=True)
    l = F.softplus(neg_lse - s)
    return (l * pos).sum() / pos.sum()


def boundary_loss(zx, zt, regions, present, structures):
    """Sum over structures of NT-Xent over the present boundary / background vectors of Z_x and Z_t."""
    b, f = zx.shape[0], zx.shape[1]
    r = 2 * structures
    pooled = [torch.bmm(regions, z.reshape(b, f, -1).transpose(1, 2)).reshape(b * r, f) for z in (zx, zt)]
    total = zx.sum() * 0
    for s in range(structures):
        rows = [i * r + 2 * s + (0 if lab == 1 else 1) for lab in (1, 0) for i in range(b)]
        rows = [row for row in rows if present[row]]
        if not rows:
            continue
        idx = torch.tensor(rows)
        lab = torch.tensor([1 if row % 2 == 0 else 0 for row in rows])
        emb = torch.cat([p[idx] for p in pooled], 0)
        total = total + nt_xent(emb, torch.cat([lab, lab]))
    return total


class Adam:
    def __init__(self, params, lr=1e-3):
        self.opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)

    def step(self, grads):
        for p, g in zip(self.opt.param_groups[0]["params"], grads):
            p.grad = g
        self.opt.step()


def arr(b64, shape):
    return torch.from_numpy(np.frombuffer(base64.b64decode(b64), dtype=np.float32).copy().reshape(shape))


class Worker:
    def __init__(self):
        self.net = None
        self.data = None

    def setup(self, m):
        torch.set_num_threads(int(m["threads"]))
        self.cfg = (m["inChannels"], m["classes"], m.get("baseWidth", 16), m.get("depth", 5))
        self.net = UNet(*self.cfg)
        # Same network as FedSeg's: every name and shape (FedSeg's HWIO filters = torch OIHW transposed).
        theirs = [(s["name"], s["shape"]) for s in m["shapes"]]
        ours = [(n, list(p.shape)) for n, p in self.net.params.items()]
        to_ours = lambda n, sh: (n, [sh[3], sh[2], sh[0], sh[1]] if len(sh) == 4 else sh)
        if sorted(to_ours(n, sh) for n, sh in theirs) != sorted(ours):
            raise ValueError("the PyTorch U-Net's weight names/shapes differ from FedSeg's")
        self.adam = Adam(list(self.net.params.values()))
        return {"params": self.net.count(), "threads": torch.get_num_threads(), "torch": torch.__version__}

    def load(self, m):
        b, h, w = m["b"], m["h"], m["w"]
        nchw = lambda t: t.permute(0, 3, 1, 2).contiguous()
        self.x = nchw(arr(m["x"], [b, h, w, -1]))
        self.views = [nchw(arr(v, [b, h, w, -1])) for v in m["views"]]
        self.y = nchw(arr(m["y"], [b, h, w, -1]))
        self.structures = self.y.shape[1]
        self.regions = arr(m["regions"], [b, 2 * self.structures, h * w])
        self.present = list(m["present"])
        return {"x": list(self.x.shape), "y": list(self.y.shape)}

    def fedavg(self):
        P = self.net.params
        names = self.net.names
        loss = dice_loss(self.net.forward(P, self.x)[0], self.y)
        grads = torch.autograd.grad(loss, [P[n] for n in names])
        self.adam.step(grads)
        return float(loss)

    def elcfs(self):
        P = self.net.params
        names = self.net.names
        theta = [P[n] for n in names]
        sx, zx = self.net.forward(P, self.x)
        li = dice_loss(sx, self.y)
        # First order: g is a constant (autograd.grad without create_graph), so dtheta'/dtheta = I.
        g = torch.autograd.grad(li, theta, retain_graph=True)
        thp = {n: w - BETA * gi.clamp(-CLIP, CLIP) for n, w, gi in zip(names, theta, g)}
        md = 0
        bl = 0
        for t in self.views:
            st, zt = self.net.forward(thp, t)
            md = md + dice_loss(st, self.y)
            bl = bl + boundary_loss(zx, zt, self.regions, self.present, self.structures)
        total = li + (md + GAMMA * bl) / len(self.views)
        grads = torch.autograd.grad(total, theta)
        self.adam.step(grads)
        return float(total)

    def infer(self, size):
        if getattr(self, "infer_x", None) is None or self.infer_x.shape[-1] != size:
            self.infer_x = torch.rand(1, self.cfg[0], size, size, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            return float(self.net.forward(self.net.params, self.infer_x)[0].mean())

    def conv(self, backward):
        if getattr(self, "conv_in", None) is None:
            g = torch.Generator().manual_seed(7)
            self.conv_in = (torch.randn(4, 32, 128, 128, generator=g), torch.randn(32, 32, 3, 3, generator=g) * 0.1, torch.randn(4, 32, 128, 128, generator=g))
        x, w, dy = self.conv_in
        if not backward:
            with torch.no_grad():
                return float(F.conv2d(x, w, padding=1)[0, 0, 0, 0])
        x = x.detach().requires_grad_(True)
        w = w.detach().requires_grad_(True)
        dx, dw = torch.autograd.grad((F.conv2d(x, w, padding=1) * dy).sum(), [x, w])
        return float(dx[0, 0, 0, 0] + dw[0, 0, 0, 0])

    def time(self, m):
        what = m["what"]
        if what in ("fedavg", "elcfs", "infer") and self.net is None:
            raise ValueError("setup first")
        if what in ("fedavg", "elcfs") and getattr(self, "x", None) is None:
            raise ValueError("data first")
        fn = {
            "fedavg": self.fedavg,
            "elcfs": self.elcfs,
            "infer": lambda: self.infer(int(m.get("size", 384))),
            "conv_fwd": lambda: self.conv(False),
            "conv_fwdbwd": lambda: self.conv(True),
        }[what]
        if what.startswith("conv"):
            torch.set_num_threads(int(m.get("threads", torch.get_num_threads())))
        for _ in range(int(m.get("warmup", 0))):
            fn()
        walls, cpus, vals = [], [], []
        for _ in range(int(m.get("runs", 1))):
            c0, t0 = time.process_time(), time.perf_counter()
            vals.append(fn())
            walls.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
        if not all(np.isfinite(vals)):
            raise ValueError(f"{what}: non-finite result {vals}")
        return {"wall": walls, "cpu": cpus, "threads": torch.get_num_threads()}


def main():
    w = Worker()
    reply({"ok": True, "ready": True, "torch": torch.__version__, "numpy": np.__version__})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            m = json.loads(line)
            op = m.get("op")
            if op == "quit":
                reply({"ok": True})
                return
            out = {"setup": w.setup, "data": w.load, "time": w.time}[op](m)
            reply({"ok": True, **out})
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
