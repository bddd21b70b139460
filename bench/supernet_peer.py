#!/usr/bin/env python3
"""The PyTorch peer of the DARTS supernet benchmark (bench/supernet_speed.sh).

DARTS's search network (Liu et al. 2019, quark0/darts model_search.py and operations.py) as its
authors wrote it, with the module names of xnas's (plugins/spaces/nasnet/src/supernet/) so weights load by
name:

* ops: none (x * 0, strided for a reduction), 3x3 max and average pools (padding 1, the average
  without the padding) each followed by a non-affine BN, skip (identity, or at stride 2 a
  FactorizedReduce: ReLU, two 1x1 stride-2 convs, the second on the input shifted by one pixel with
  a zero row and column at the end, concat, BN), sep_conv 3x3/5x5 ((ReLU, depthwise, pointwise, BN)
  twice), dil_conv 3x3/5x5 (once, dilation 2); no conv bias; every cell BN non-affine; every op
  computes its own ReLU; the mixed op is DARTS's `sum(w * op(x) for w, op in ...)`;
* cell: s0 through ReLU-1x1 conv-BN or, after a reduction, a FactorizedReduce; s1 through ReLU-1x1
  conv-BN; node i sums a mixed op over every earlier state; output = the 4 nodes concatenated;
* network: stem 3x3 conv to 3C + BN (affine, as DARTS's), cells with reductions at L//3 and 2L//3,
  global average pool, linear classifier; PyTorch's default initialisation.

One search epoch as DARTS's train_search.py runs it, and as plugins/spaces/nasnet/examples/
supernet_throughput.rs runs it through xnas's supernet engine: for each w batch, the alpha step on
the next alpha batch (first order: d loss / d alpha; second order: DARTS's architect.py unrolled
step, w' = w - xi (mu m + grad + wd w), v = grad_w' L_val(w'), the Hessian-vector product by
central differences at w with R = 0.01 / |v|), Adam on alpha (3e-4, betas (0.5, 0.999), weight
decay 1e-3), then the w step (SGD 0.025 momentum 0.9 weight decay 3e-4, clip_grad_norm_ 5); then
the evaluation over the alpha split (eval mode, no grad); cosine learning rate per epoch. The random
data is split half and half into w and alpha parts; both iterators cycle, reshuffled per pass.
Written as a strong peer: alpha gradients by torch.autograd.grad on alpha alone (DARTS's
`loss.backward()` also computes every weight gradient), and the unrolled step moves the weights in
place with torch._foreach ops instead of building a new model per step as architect.py does.

Modes:
  train   one measurement (a warm-up epoch, then a timed one); prints one JSON line.
  idle    `import torch` and one tiny op, then VmHWM.
  check   compares with xnas's network (`--rust JSON`: `supernet_throughput --describe`): parameter
          count, every variable's name and shape, the logits' shape; with `--rust-dump FILE`, loads
          xnas's initial weights by name and compares the logits and d loss / d mix on its batch.
"""

import argparse
import json
import math
import sys
import time

from nasnet_peer import cpu_seconds, idle, peak_rss_mib

PRIMITIVES = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
              "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]


def build_modules(torch):
    nn = torch.nn
    F = torch.nn.functional

    def conv(cin, cout, k, stride=1, dilation=1, groups=1):
        return nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k - 1) // 2,
                         dilation=dilation, groups=groups, bias=False)

    class ReLUConvBN(nn.Module):
        """ReLU, convolutions conv0, conv1, ..., BN (non-affine)."""

        def __init__(self, convs, cout):
            super().__init__()
            self.convs = len(convs)
            for i, c in enumerate(convs):
                self.add_module(f"conv{i}", c)
            self.bn = nn.BatchNorm2d(cout, affine=False)

        def forward(self, x):
            x = F.relu(x)
            for i in range(self.convs):
                x = getattr(self, f"conv{i}")(x)
            return self.bn(x)

    class SepConv(nn.Module):
        def __init__(self, c, k, stride):
            super().__init__()
            self.unit0 = ReLUConvBN([conv(c, c, k, stride, 1, c), conv(c, c, 1)], c)
            self.unit1 = ReLUConvBN([conv(c, c, k, 1, 1, c), conv(c, c, 1)], c)

        def forward(self, x):
            return self.unit1(self.unit0(x))

    class DilConv(nn.Module):
        def __init__(self, c, k, stride):
            super().__init__()
            self.unit0 = ReLUConvBN([conv(c, c, k, stride, 2, c), conv(c, c, 1)], c)

        def forward(self, x):
            return self.unit0(x)

    class FactorizedReduce(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv1 = conv(cin, cout - cout // 2, 1, 2)
            self.conv2 = conv(cin, cout // 2, 1, 2)
            self.bn = nn.BatchNorm2d(cout, affine=False)

        def forward(self, x):
            x = F.relu(x)
            return self.bn(torch.cat([self.conv1(x), self.conv2(F.pad(x, (-1, 1, -1, 1)))], 1))

    class Zero(nn.Module):
        def __init__(self, stride):
            super().__init__()
            self.stride = stride

        def forward(self, x):
            if self.stride == 1:
                return x.mul(0.)
            return x[:, :, ::self.stride, ::self.stride].mul(0.)

    class Identity(nn.Module):
        def forward(self, x):
            return x

    class PoolBN(nn.Module):
        def __init__(self, kind, c, stride):
            super().__init__()
            self.pool = (nn.MaxPool2d(3, stride, 1) if kind == "max"
                         else nn.AvgPool2d(3, stride, 1, count_include_pad=False))
            self.bn = nn.BatchNorm2d(c, affine=False)

        def forward(self, x):
            return self.bn(self.pool(x))

    def make_op(name, c, stride):
        return {
            "none": lambda: Zero(stride),
            "max_pool_3x3": lambda: PoolBN("max", c, stride),
            "avg_pool_3x3": lambda: PoolBN("avg", c, stride),
            "skip_connect": lambda: Identity() if stride == 1 else FactorizedReduce(c, c),
            "sep_conv_3x3": lambda: SepConv(c, 3, stride),
            "sep_conv_5x5": lambda: SepConv(c, 5, stride),
            "dil_conv_3x3": lambda: DilConv(c, 3, stride),
            "dil_conv_5x5": lambda: DilConv(c, 5, stride),
        }[name]()

    class MixedOp(nn.Module):
        def __init__(self, c, stride):
            super().__init__()
            self.names = PRIMITIVES
            for p in PRIMITIVES:
                self.add_module(p, make_op(p, c, stride))

        def forward(self, x, weights):
            return sum(w * getattr(self, p)(x) for w, p in zip(weights, self.names))

    class Cell(nn.Module):
        def __init__(self, c_pp, c_p, c, reduction, reduction_prev):
            super().__init__()
            self.reduction = reduction
            self.pre0 = (FactorizedReduce(c_pp, c) if reduction_prev
                         else ReLUConvBN([conv(c_pp, c, 1)], c))
            self.pre1 = ReLUConvBN([conv(c_p, c, 1)], c)
            self.edges = nn.ModuleList()
            for i in range(4):
                for j in range(2 + i):
                    self.edges.append(MixedOp(c, 2 if reduction and j < 2 else 1))

        def forward(self, s0, s1, weights):
            states = [self.pre0(s0), self.pre1(s1)]
            offset = 0
            for _ in range(4):
                s = sum(self.edges[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
                offset += len(states)
                states.append(s)
            return torch.cat(states[-4:], dim=1)

    class Stem(nn.Module):
        def __init__(self, cin, c):
            super().__init__()
            self.conv = conv(cin, c, 3)
            self.bn = nn.BatchNorm2d(c)

    class Network(nn.Module):
        def __init__(self, cin, classes, c, layers, channels_last=False, tasks=1):
            super().__init__()
            self.channels_last = channels_last
            # One classifier per task, as xnas's (`classifier.t{task}`); `task` picks the one
            # forward uses (bench/base_peer.py switches it).
            self.task = "t0"
            c_curr = 3 * c
            self.stem = nn.ModuleDict({f"c{cin}": Stem(cin, c_curr)})
            self.stem_key = f"c{cin}"
            c_pp, c_p, c_curr = c_curr, c_curr, c
            self.cells = nn.ModuleList()
            reduction_prev = False
            for i in range(layers):
                reduction = i in (layers // 3, 2 * layers // 3)
                if reduction:
                    c_curr *= 2
                self.cells.append(Cell(c_pp, c_p, c_curr, reduction, reduction_prev))
                reduction_prev = reduction
                c_pp, c_p = c_p, 4 * c_curr
            self.classifier = nn.ModuleDict({f"t{t}": nn.Linear(c_p, classes) for t in range(tasks)})

        def forward(self, x, mix):
            stem = self.stem[self.stem_key]
            s = stem.conv(x)
            if self.channels_last:
                s = s.contiguous(memory_format=torch.channels_last)
            s0 = s1 = stem.bn(s)
            normal, reduce = mix[:14], mix[14:]
            for cell in self.cells:
                s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
            return self.classifier[self.task](s1.mean([2, 3]))

    return Network


def variables(model):
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def check(torch, args, shape):
    Network = build_modules(torch)
    model = Network(shape[0], args.classes, args.channels, args.cells, args.channels_last)
    rust = json.loads(args.rust)
    mine = sorted([k, list(v.shape)] for k, v in variables(model).items())
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(2, *shape)
    logits = model(x, torch.full((28, 8), 1 / 8)).shape
    print(f"  parameters: xnas {rust['parameters']}, PyTorch {params}")
    print(f"  variables: xnas {len(rust['variables'])}, PyTorch {len(mine)} (names and shapes)")
    print(f"  logits: xnas {rust['logits']}, PyTorch {list(logits)}")
    theirs, ours = dict((k, tuple(s)) for k, s in rust["variables"]), dict((k, tuple(s)) for k, s in mine)
    if rust["parameters"] != params or theirs != ours or rust["logits"][1:] != list(logits)[1:]:
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        print(f"MISMATCH of the networks' shapes: {diff[:5]}", file=sys.stderr)
        return 1
    if args.rust_dump:
        with open(args.rust_dump) as f:
            d = json.load(f)

        def tensor(v):
            return torch.tensor(v["data"], dtype=torch.float32).view(v["shape"])

        model.load_state_dict({k: tensor(v) for k, v in d["variables"].items()}, strict=False)
        model.train()
        mix = tensor(d["mix"]).requires_grad_(True)
        x, y = tensor(d["x"]), torch.tensor(d["y"])
        logits = model(x, mix)
        loss = torch.nn.functional.cross_entropy(logits, y)
        (g,) = torch.autograd.grad(loss, [mix])

        def rel(a, b):
            return ((a - b).norm() / b.norm().clamp(min=1e-12)).item()

        e_logits = rel(logits.detach(), tensor(d["logits_train"]))
        e_grad = rel(g, tensor(d["mix_grad"]))
        print(f"  same weights and batch: logits differ by {e_logits:.1e}, d loss / d mix by "
              f"{e_grad:.1e} (relative, in norm)")
        if not (e_logits < 1e-4 and e_grad < 1e-3):
            print("MISMATCH: the two supernets compute different functions", file=sys.stderr)
            return 1
    print("same supernet")
    return 0


class Cycle:
    """Batches of a part, cycling, reshuffled per pass (a trailing batch of one is skipped)."""

    def __init__(self, torch, x, y, batch, gen):
        self.torch, self.x, self.y, self.gen = torch, x, y, gen
        self.n, self.b = len(y), min(batch, len(y))
        self.batches = self.n // self.b + (1 if self.n % self.b >= 2 else 0)
        self.i, self.order = 0, torch.randperm(self.n, generator=gen)

    def peek(self):
        idx = self.order[self.i * self.b:(self.i + 1) * self.b]
        return self.x.index_select(0, idx), self.y.index_select(0, idx)

    def advance(self):
        self.i += 1
        if self.i == self.batches:
            self.i, self.order = 0, self.torch.randperm(self.n, generator=self.gen)


def train(torch, args, shape):
    F = torch.nn.functional
    Network = build_modules(torch)
    start = time.perf_counter()
    torch.manual_seed(0)
    images = torch.randn(args.images, *shape)
    labels = torch.randint(args.classes, (args.images,))
    half = args.images // 2
    gen = torch.Generator().manual_seed(args.seed)
    w_it = Cycle(torch, images[:half], labels[:half], args.batch, gen)
    a_it = Cycle(torch, images[half:], labels[half:], args.batch, gen)
    torch.manual_seed(args.seed)
    model = Network(shape[0], args.classes, args.channels, args.cells, args.channels_last)
    alpha = (1e-3 * torch.randn(28, 8)).requires_grad_(True)
    params = list(model.parameters())
    epochs, lr_max, lr_min, momentum, wd = 50, 0.025, 0.001, 0.9, 3e-4
    w_opt = torch.optim.SGD(params, lr=lr_max, momentum=momentum, weight_decay=wd)
    a_opt = torch.optim.Adam([alpha], lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    loss_of = lambda x, y, mix: F.cross_entropy(model(x, mix), y)

    def unrolled(lr):
        xt, yt = w_it.peek()
        xv, yv = a_it.peek()
        # w' = w - xi (mu m + grad + wd w), in place; the w forward updates running statistics
        # (as DARTS's on the model), the w' one does not (DARTS's runs on a copy).
        grads = torch.autograd.grad(loss_of(xt, yt, F.softmax(alpha, -1).detach()), params)
        with torch.no_grad():
            w0 = [p.detach().clone() for p in params]
            moms = [w_opt.state[p]["momentum_buffer"] if "momentum_buffer" in w_opt.state[p]
                    else torch.zeros_like(p) for p in params]
            step = torch._foreach_mul(moms, momentum)
            torch._foreach_add_(step, grads)
            torch._foreach_add_(step, w0, alpha=wd)
            torch._foreach_add_(params, step, alpha=-lr)
            buffers = [b.clone() for b in model.buffers()]
        out = torch.autograd.grad(loss_of(xv, yv, F.softmax(alpha, -1)), [alpha] + params)
        d_alpha, v = out[0], out[1:]
        with torch.no_grad():
            torch._foreach_copy_(params, w0)
            for b, s in zip(model.buffers(), buffers):
                b.copy_(s)
            r = 0.01 / torch.cat([t.reshape(-1) for t in v]).norm()
        sides = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                torch._foreach_add_(params, [t * (sign * r) for t in v])
            sides.append(torch.autograd.grad(loss_of(xt, yt, F.softmax(alpha, -1)), [alpha])[0])
        with torch.no_grad():
            torch._foreach_add_(params, [t * r for t in v])
        a_it.advance()
        return d_alpha - lr * (sides[0] - sides[1]) / (2 * r)

    marks, cpu_marks = [], []
    for epoch in range(2):
        lr = lr_min + (lr_max - lr_min) * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        for group in w_opt.param_groups:
            group["lr"] = lr
        model.train()
        for _ in range(w_it.batches):
            if args.order == 2:
                g = unrolled(lr)
            else:
                xv, yv = a_it.peek()
                a_it.advance()
                (g,) = torch.autograd.grad(loss_of(xv, yv, F.softmax(alpha, -1)), [alpha])
            alpha.grad = g
            a_opt.step()
            xt, yt = w_it.peek()
            w_it.advance()
            loss = loss_of(xt, yt, F.softmax(alpha, -1).detach())
            w_opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            w_opt.step()
        model.eval()
        with torch.no_grad():
            mix = F.softmax(alpha, -1)
            for i in range(0, len(a_it.y), args.batch):
                loss_of(a_it.x[i:i + args.batch], a_it.y[i:i + args.batch], mix)
        marks.append(time.perf_counter() - start)
        cpu_marks.append(cpu_seconds())
    timed = marks[1] - marks[0]
    trained = w_it.batches * w_it.b
    print(json.dumps({
        "peer": f"pytorch {torch.__version__}", "what": f"supernet-epoch-order{args.order}",
        "shape": args.shape, "layout": "channels-last" if args.channels_last else "default",
        "threads": torch.get_num_threads(), "steps": w_it.batches, "batch": args.batch,
        "images_per_s": round(min(trained, half) / timed, 2),
        "ms_per_step": round(timed * 1000 / w_it.batches, 1),
        "warmup_images_per_s": round(min(trained, half) / marks[0], 2),
        "cpu_s": round(cpu_marks[1] - cpu_marks[0], 2), "peak_rss_mib": round(peak_rss_mib(), 1),
        "parameters": sum(p.numel() for p in params), "train_loss": loss.item(),
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["train", "idle", "check"])
    ap.add_argument("--order", type=int, default=1, choices=[1, 2])
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--shape", default="1,28,28")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--cells", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels-last", action="store_true",
                    help="make the stem's output (and so every later activation) channels-last")
    ap.add_argument("--rust", help="check: the JSON line of `supernet_throughput --describe`")
    ap.add_argument("--rust-dump", help="check: the file of `supernet_throughput --describe --dump`")
    args = ap.parse_args()
    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.mode == "idle":
        idle(torch)
        return 0
    shape = tuple(int(s) for s in args.shape.split(","))
    if args.mode == "check":
        return check(torch, args, shape)
    train(torch, args, shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
