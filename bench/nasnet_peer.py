#!/usr/bin/env python3
"""The PyTorch peer of the NASNet-space throughput benchmark (issue 5, bench/nasnet_speed.sh).

The same network and training step as xnas's `xnas_space_nasnet` (plugins/spaces/nasnet/src/ops.rs,
network.rs, and the shared loop plugins/libs/tch/src/layers.rs, train/) written in PyTorch:

* ops: ReLU-conv-BN units with "same" padding dilation*(k-1)/2 and no conv bias; conv 1xk then kx1;
  separable convs twice (depthwise + pointwise, each unit with its own ReLU and BN); dilated
  separable conv once; odd pools padded by (k-1)/2 (avg pools without counting the padding, min
  pool = -maxpool(-x)); 2x2 pools padded as TensorFlow's SAME (the odd pixel right/bottom; the
  padded 2x2 avg pool divides by the real pixels of each window); identity at stride 2 is a
  FactorizedReduce (ReLU, two 1x1 stride-2 convs, the second on the input shifted by one pixel with
  a zero row/column at the end, concat, BN);
* cells: h0 preprocessed by ReLU-1x1 conv-BN or, after a reduction cell, a FactorizedReduce; h1 by
  ReLU-1x1 conv-BN; ops reading h0/h1 in a reduction cell have stride 2; add (or concat + 1x1
  squeeze) per block; output = concat of the loose ends;
* network: stem 3x3 conv + BN to 3F channels, N normal, reduce, N normal, reduce, N normal, global
  average pool, linear; affine BN (eps 1e-5, momentum 0.1); PyTorch's default initialisation
  (which is what xnas reproduces: uniform in +-1/sqrt(fan_in));
* drop-path: one tensor of per-sample keep masks per forward for every op but the stride-1
  identities, pre-divided by the keep probability, from the network's own generator;
  probability drop_path * epoch / epochs;
* training: SGD momentum 0.9, weight decay 3e-4 on every parameter, cosine learning rate per step
  from 0.025 to 0, clip_grad_norm_(5) before the step, cross entropy; batched augmentation (zero
  pad 4 + random crop + random horizontal flip as one gather, optional cutout as one multiply);
  after each epoch a validation pass (eval mode, no grad) over one batch.

Protocol (the same as `plugins/spaces/nasnet/examples/throughput.rs`, which runs xnas's `train`): two
epochs of K steps on random data; the first warms up, the second (shuffle, K training steps, the
validation pass) is timed. Peak memory is this process's VmHWM at the end.

Modes:
  train     one measurement; prints one JSON line.
  idle      `import torch` and one tiny op, then VmHWM (the baseline of an idle process).
  check     compares this network with xnas's (`--rust JSON`, the `--describe` line of the
            example): genotype, parameter count, sorted parameter shapes, mult-adds counted from
            the real output shapes of a forward pass; with `--rust-dump FILE` (`--describe --dump
            FILE`), also loads xnas's initial weights (the modules here carry xnas's variable
            names) and compares the logits and every gradient on xnas's batch. Prints both sides;
            exits 1 if they differ.

`--channels-last` makes the stem's output, and so every later activation, channels-last (off by
default, as xnas is now); it is the layout change proposed for xnas in bench/RESULTS.md (issue 5).
"""

import argparse
import collections
import json
import math
import os
import sys
import time

XFERNASNET = (
    "normal: b0 = sep_conv_3x3(h0) + conv_3x3(h1); b1 = identity(h0) + avg_pool_2x2(b0); "
    "b2 = dil_sep_conv_5x5(h0) + identity(b0); b3 = conv_1x1(h0) + avg_pool_5x5(h1); "
    "b4 = conv_3x3(b2) + conv_1x1(h0) | reduce: b0 = identity(h1) + conv_1x3_3x1(h0); "
    "b1 = max_pool_5x5(h1) + conv_1x3_3x1(h1); b2 = avg_pool_3x3(b1) + dil_sep_conv_5x5(b0); "
    "b3 = max_pool_2x2(h1) + sep_conv_3x3(b2); b4 = sep_conv_7x7(b1) + sep_conv_3x3(h0)"
)


def idle(torch):
    """The idle baseline's line: `import torch` and one tiny op, then the peak memory."""
    torch.zeros(1).add_(1)
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "what": "idle",
                      "threads": torch.get_num_threads(), "peak_rss_mib": round(peak_rss_mib(), 1)}))


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_seconds():
    """CPU seconds (user + system, all threads) of this process: /proc/self/stat, as xnas reads it."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- genotype (genome.rs text form)

def parse_op(name):
    """('identity'|'conv'|'conv_factored'|'dil_conv'|'sep_conv'|'dil_sep_conv'|'max'|'avg'|'min', k)."""
    name = name.strip()
    if name == "identity":
        return ("identity", 0)
    for prefix, kind in [("max_pool_", "max"), ("avg_pool_", "avg"), ("min_pool_", "min"),
                         ("dil_sep_conv_", "dil_sep_conv"), ("sep_conv_", "sep_conv"),
                         ("dil_conv_", "dil_conv")]:
        if name.startswith(prefix):
            a, b = name[len(prefix):].split("x")
            assert a == b, name
            return (kind, int(a))
    if name.startswith("conv_1x") and "_" in name[len("conv_1x"):]:
        k = int(name[len("conv_1x"):].split("_")[0])
        assert name == f"conv_1x{k}_{k}x1", name
        return ("conv_factored", k)
    if name.startswith("conv_"):
        a, b = name[len("conv_"):].split("x")
        assert a == b, name
        return ("conv", int(a))
    raise ValueError(f"unknown op `{name}`")


def op_name(op):
    kind, k = op
    return {
        "identity": "identity",
        "conv": f"conv_{k}x{k}",
        "conv_factored": f"conv_1x{k}_{k}x1",
        "dil_conv": f"dil_conv_{k}x{k}",
        "sep_conv": f"sep_conv_{k}x{k}",
        "dil_sep_conv": f"dil_sep_conv_{k}x{k}",
        "max": f"max_pool_{k}x{k}",
        "avg": f"avg_pool_{k}x{k}",
        "min": f"min_pool_{k}x{k}",
    }[kind]


def state_index(s):
    s = s.strip()
    return {"h0": 0, "h1": 1}.get(s) if s in ("h0", "h1") else int(s[1:]) + 2


def state_name(i):
    return ["h0", "h1"][i] if i < 2 else f"b{i - 2}"


def parse_text(text):
    """{'normal': [block], 'reduce': [block]}, block = (inputs (i1, i2), ops (o1, o2), concat)."""
    cells = {}
    for part, name in zip(text.split("|"), ["normal", "reduce"]):
        body = part.strip()
        assert body.startswith(name), body
        body = body[len(name):].lstrip()[1:]
        blocks = []
        for b, stmt in enumerate(body.split(";")):
            lhs, rhs = stmt.split("=", 1)
            assert lhs.strip() == f"b{b}", stmt
            concat = "++" in rhs
            left, right = rhs.split("++" if concat else "+", 1)
            branches = []
            for br in (left, right):
                op, rest = br.strip().split("(", 1)
                branches.append((parse_op(op), state_index(rest.rstrip(")").strip())))
            blocks.append(((branches[0][1], branches[1][1]), (branches[0][0], branches[1][0]), concat))
        cells[name] = blocks
    return cells


def to_text(g):
    def cell(blocks):
        return "; ".join(
            f"b{b} = {op_name(ops[0])}({state_name(ins[0])}) {'++' if cc else '+'} "
            f"{op_name(ops[1])}({state_name(ins[1])})"
            for b, (ins, ops, cc) in enumerate(blocks))
    return f"normal: {cell(g['normal'])} | reduce: {cell(g['reduce'])}"


def loose_ends(blocks):
    used = set(i for ins, _, _ in blocks for i in ins)
    return [s for s in range(2, len(blocks) + 2) if s not in used]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["train", "idle", "check"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--shape", default="3,32,32")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--cells", type=int, default=1)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--genotype", default=XFERNASNET, help="the text form (default: XferNASNet)")
    ap.add_argument("--crop", type=int, default=4)
    ap.add_argument("--flip", type=int, default=1)
    ap.add_argument("--cutout", type=int, default=0)
    ap.add_argument("--drop-path", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels-last", action="store_true",
                    help="make the stem's output (and so every later activation) channels-last")
    ap.add_argument("--rust", help="check: the JSON line of `throughput --describe`")
    ap.add_argument("--rust-dump", help="check: the file of `throughput --describe --dump FILE` "
                                        "(weights, a batch, xnas's logits and gradients)")
    args = ap.parse_args()

    import torch  # after argument parsing, so `--help` stays cheap

    if args.mode == "idle":
        idle(torch)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = [int(s) for s in args.shape.split(",")]
    g = parse_text(args.genotype)
    if args.mode == "check":
        sys.exit(check(torch, g, shape, args))
    train_bench(torch, g, shape, args)


# ---------------------------------------------------------------- the network (ops.rs, network.rs)

def build_modules(torch):
    """Defines the modules with torch imported (the module classes need nn.Module). Submodules are
    named as xnas names its variables (`stem.conv.weight`, `cells.3.b2.op1.unit0.conv1.weight`,
    `cells.2.pre0.bn.running_mean`, ...), so the two state dicts have the same keys."""
    nn = torch.nn
    F = torch.nn.functional

    def conv(cin, cout, kernel, stride=1, dilation=1, groups=1):
        kh, kw = kernel
        return nn.Conv2d(cin, cout, (kh, kw), stride=stride,
                         padding=(dilation * (kh - 1) // 2, dilation * (kw - 1) // 2),
                         dilation=dilation, groups=groups, bias=False)

    class ReluConvBn(nn.Module):
        def __init__(self, convs, cout):
            super().__init__()
            for i, c in enumerate(convs):
                self.add_module(f"conv{i}", c)
            self.seq = convs  # a plain list: the modules are registered above
            self.bn = nn.BatchNorm2d(cout)  # affine, eps 1e-5, momentum 0.1

        def forward(self, x):
            y = F.relu(x)
            for c in self.seq:
                y = c(y)
            return self.bn(y)

    def pointwise(cin, cout):
        return ReluConvBn([conv(cin, cout, (1, 1))], cout)

    class FactorizedReduce(nn.Module):
        identity = False

        def __init__(self, cin, cout):
            super().__init__()
            c2 = cout // 2
            self.conv1 = conv(cin, cout - c2, (1, 1), stride=2)
            self.conv2 = conv(cin, c2, (1, 1), stride=2) if c2 > 0 else None
            self.bn = nn.BatchNorm2d(cout)

        def forward(self, x):
            x = F.relu(x)
            a = self.conv1(x)
            if self.conv2 is not None:
                # Drop the first row/column, add a zero one at the end.
                a = torch.cat([a, self.conv2(F.pad(x, (-1, 1, -1, 1)))], 1)
            return self.bn(a)

    def same_padding(size, k, s):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        return total // 2, total - total // 2

    def pool(x, kind, k, stride):
        if k % 2 == 1:
            p = (k - 1) // 2
            if kind == "max":
                return F.max_pool2d(x, k, stride, p)
            if kind == "min":
                return -F.max_pool2d(-x, k, stride, p)
            return F.avg_pool2d(x, k, stride, p, ceil_mode=False, count_include_pad=False)
        h, w = x.shape[2], x.shape[3]
        top, bottom = same_padding(h, k, stride)
        left, right = same_padding(w, k, stride)
        pad = (left, right, top, bottom)
        padded = any(p > 0 for p in pad)

        def mx(t):
            if padded:
                t = F.pad(t, pad, value=float("-inf"))
            return F.max_pool2d(t, k, stride, 0)

        if kind == "max":
            return mx(x)
        if kind == "min":
            return -mx(-x)
        if not padded:
            return F.avg_pool2d(x, k, stride, 0, ceil_mode=False, count_include_pad=True)

        def window_sum(t):
            return F.avg_pool2d(F.pad(t, pad), k, stride, 0, ceil_mode=False, count_include_pad=True,
                                divisor_override=1)

        return window_sum(x) / window_sum(torch.ones(1, 1, h, w, dtype=x.dtype))

    def conv_units(op, c, stride):
        kind, k = op
        dw = lambda s, d: conv(c, c, (k, k), stride=s, dilation=d, groups=c)  # noqa: E731
        pw = lambda: conv(c, c, (1, 1))  # noqa: E731
        if kind == "conv":
            return [[conv(c, c, (k, k), stride=stride)]]
        if kind == "conv_factored":
            return [[conv(c, c, (1, k), stride=stride), conv(c, c, (k, 1))]]
        if kind == "dil_conv":
            return [[conv(c, c, (k, k), stride=stride, dilation=2)]]
        if kind == "sep_conv":
            return [[dw(stride, 1), pw()], [dw(1, 1), pw()]]
        if kind == "dil_sep_conv":
            return [[dw(stride, 2), pw()]]
        return []

    class Identity(nn.Module):
        identity = True

        def forward(self, x):
            return x

    class Pool(nn.Module):
        identity = False

        def __init__(self, kind, k, stride):
            super().__init__()
            self.kind, self.k, self.stride = kind, k, stride

        def forward(self, x):
            return pool(x, self.kind, self.k, self.stride)

    class ConvOp(nn.Module):
        identity = False

        def __init__(self, op, c, stride):
            super().__init__()
            self.seq = [ReluConvBn(u, c) for u in conv_units(op, c, stride)]
            for i, u in enumerate(self.seq):
                self.add_module(f"unit{i}", u)

        def forward(self, x):
            for u in self.seq:
                x = u(x)
            return x

    def make_op(op, c, stride):
        kind, k = op
        if kind == "identity":
            return Identity() if stride == 1 else FactorizedReduce(c, c)
        if kind in ("max", "avg", "min"):
            return Pool(kind, k, stride)
        return ConvOp(op, c, stride)

    class BlockModule(nn.Module):
        def __init__(self, ins, ops, concat, c, reduction, droppable):
            super().__init__()
            self.inputs, self.concat = ins, concat
            self.op0, self.op1 = [make_op(ops[k], c, 2 if reduction and ins[k] < 2 else 1) for k in range(2)]
            self.drop = []
            for m in (self.op0, self.op1):
                if m.identity:
                    self.drop.append(None)
                else:
                    self.drop.append(droppable[0])
                    droppable[0] += 1
            self.squeeze = pointwise(2 * c, c) if concat else None

        def forward(self, states, masks):
            hs = []
            for k, m in enumerate((self.op0, self.op1)):
                h = m(states[self.inputs[k]])
                row = self.drop[k]
                if masks is not None and row is not None:
                    h = h * masks[row]
                hs.append(h)
            if self.concat:
                return self.squeeze(torch.cat(hs, 1))
            return hs[0] + hs[1]

    class CellModule(nn.Module):
        def __init__(self, blocks, reduction, reduction_prev, c, c_pp, c_p, droppable):
            super().__init__()
            self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else pointwise(c_pp, c)
            self.pre1 = pointwise(c_p, c)
            self.seq = [BlockModule(ins, ops, cc, c, reduction, droppable) for ins, ops, cc in blocks]
            for b, m in enumerate(self.seq):
                self.add_module(f"b{b}", m)
            self.loose = loose_ends(blocks)

        def forward(self, s0, s1, masks):
            states = [self.pre0(s0), self.pre1(s1)]
            for blk in self.seq:
                states.append(blk(states, masks))
            outs = [states[i] for i in self.loose]
            return outs[0] if len(outs) == 1 else torch.cat(outs, 1)

    class Network(nn.Module):
        def __init__(self, g, cells, filters, in_channels, classes, stem_multiplier=3, channels_last=False):
            super().__init__()
            # Off by default (PyTorch's default layout, as xnas has now); on, the stem's output and
            # so every later activation is channels-last (see bench/RESULTS.md, issue 5).
            self.channels_last = channels_last
            stem_c = stem_multiplier * filters
            self.stem = nn.Module()
            self.stem.conv = conv(in_channels, stem_c, (3, 3))
            self.stem.bn = nn.BatchNorm2d(stem_c)
            c_pp = c_p = stem_c
            c = filters
            reduction_prev = False
            droppable = [0]
            self.cells = nn.ModuleList()
            for stage in range(3):
                for reduction in [False] * cells + ([True] if stage < 2 else []):
                    if reduction:
                        c *= 2
                    blocks = g["reduce" if reduction else "normal"]
                    self.cells.append(CellModule(blocks, reduction, reduction_prev, c, c_pp, c_p, droppable))
                    c_pp, c_p = c_p, c * len(loose_ends(blocks))
                    reduction_prev = reduction
            self.droppable = droppable[0]
            self.classifier = nn.Linear(c_p, classes)
            self.drop_gen = torch.Generator().manual_seed(0)

        def set_drop_path_seed(self, seed):
            self.drop_gen.manual_seed(seed)

        def drop_masks(self, batch, p):
            keep = 1.0 - p
            scale = 1.0 / keep if keep > 0 else 0.0
            r = torch.rand(self.droppable, batch, generator=self.drop_gen)
            return ((r < keep).float() * scale).view(self.droppable, batch, 1, 1, 1)

        def forward(self, x, drop_prob=0.0):
            masks = None
            if self.training and drop_prob > 0 and self.droppable > 0:
                masks = self.drop_masks(x.shape[0], drop_prob)
            s = self.stem.conv(x)
            if self.channels_last:
                s = s.contiguous(memory_format=torch.channels_last)
            s0 = s1 = self.stem.bn(s)
            for cell in self.cells:
                s0, s1 = s1, cell(s0, s1, masks)
            return self.classifier(s1.mean((2, 3)))

    return Network


def parameter_count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_mult_adds(torch, model, shape):
    """Mult-adds of one image's forward pass, from the real output shapes (as xnas's `flops`)."""
    total = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        total[0] += out[0].numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    model.train()
    return total[0], list(out.shape)


def check(torch, g, shape, args):
    Network = build_modules(torch)
    torch.manual_seed(args.seed)
    model = Network(g, args.cells, args.filters, shape[0], args.classes, channels_last=args.channels_last)
    mult_adds, out_shape = count_mult_adds(torch, model, shape)
    mine = {
        "genotype": to_text(g),
        "parameters": parameter_count(model),
        "mult_adds": mult_adds,
        "droppable_ops": model.droppable,
        "shapes": sorted([list(p.shape) for p in model.parameters() if p.requires_grad]),
    }
    rust = json.loads(args.rust)
    print(f"parameters: xnas {rust['parameters']:,}  PyTorch {mine['parameters']:,}")
    print(f"mult-adds per image: xnas {rust['mult_adds']:,}  PyTorch {mine['mult_adds']:,} (output {out_shape})")
    print(f"droppable ops: xnas {rust['droppable_ops']}  PyTorch {mine['droppable_ops']}")
    bad = [k for k in mine if mine[k] != rust.get(k)]
    if bad:
        print(f"MISMATCH between the xnas and the PyTorch network: {', '.join(bad)}", file=sys.stderr)
        if "shapes" in bad:
            count = lambda shapes: collections.Counter(map(tuple, shapes))  # noqa: E731
            ours, theirs = count(mine["shapes"]), count(rust.get("shapes", []))
            print(f"  shapes only in xnas: {dict(theirs - ours)}\n  shapes only in PyTorch: {dict(ours - theirs)}",
                  file=sys.stderr)
        return 1
    print(f"same network: genotype, parameter count, {len(mine['shapes'])} parameter shapes, mult-adds")
    if args.rust_dump:
        return numeric_check(torch, model, args.rust_dump)
    return 0


def numeric_check(torch, model, path):
    """Loads xnas's initial weights, runs xnas's batch forward (training mode, no drop-path) and
    backward, then forward in evaluation mode, and compares logits and every gradient."""
    with open(path) as f:
        d = json.load(f)

    def tensor(v):
        return torch.tensor(v["data"], dtype=torch.float32).view(v["shape"])

    state = model.state_dict()
    mine = {k for k in state if not k.endswith("num_batches_tracked")}
    theirs = set(d["variables"])
    if mine != theirs:
        print(f"MISMATCH of variable names: only xnas {sorted(theirs - mine)[:5]}, "
              f"only PyTorch {sorted(mine - theirs)[:5]}", file=sys.stderr)
        return 1
    model.load_state_dict({k: tensor(v) for k, v in d["variables"].items()}, strict=False)
    x, y = tensor(d["x"]), torch.tensor(d["y"])
    model.train()
    model.zero_grad()
    logits = model(x, 0.0)
    torch.nn.functional.cross_entropy(logits, y).backward()
    model.eval()
    with torch.no_grad():
        logits_eval = model(x)
    model.train()

    def rel(a, b):
        return ((a - b).abs().max() / b.abs().max().clamp(min=1e-12)).item()

    def norm_rel(a, b):
        return ((a - b).norm() / b.norm().clamp(min=1e-12)).item()

    params = dict(model.named_parameters())
    grads = {k: (params[k].grad, tensor(v)) for k, v in d["grads"].items()}
    errs = {
        "logits (train mode)": rel(logits.detach(), tensor(d["logits_train"])),
        "logits (eval mode, after one update of the running statistics)": rel(logits_eval, tensor(d["logits_eval"])),
        f"gradients (worst of {len(grads)})": max(rel(a, b) for a, b in grads.values()),
    }
    for k, e in errs.items():
        print(f"  same weights and batch, {k}: largest difference / largest value = {e:.1e}")
    # The same layout gives bitwise-equal results. Another layout (a channels-last xnas against
    # the default NCHW peer) sums in another order; where a ReLU input lies within rounding of 0,
    # a few elements' gradients then differ by far more than rounding, so gradients are judged by
    # the norm of the difference, tensor by tensor.
    grad_norm = max(norm_rel(a, b) for a, b in grads.values())
    print(f"  same weights and batch, gradients (worst of {len(grads)}): |difference| / |gradient| = {grad_norm:.1e}")
    logits_worst = max(v for k, v in errs.items() if k.startswith("logits"))
    if not (logits_worst < 1e-4 and grad_norm < 1e-3):
        print("MISMATCH: the two networks compute different functions", file=sys.stderr)
        return 1
    print(f"same function: logits agree to {logits_worst:.0e}, gradients to {grad_norm:.0e} "
          "(relative, in norm)")
    return 0


# ---------------------------------------------------------------- training (xnas_tch::train)

def augment(torch, x, gen, pad, flip, cutout):
    """Batched crop after zero padding + horizontal flip (one gather), cutout (one multiply)."""
    F = torch.nn.functional
    b, c, h, w = x.shape
    if pad > 0 or flip:
        hp, wp = h + 2 * pad, w + 2 * pad
        padded = F.pad(x, (pad, pad, pad, pad)) if pad > 0 else x
        oy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        ox = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        fl = torch.randint(0, 2, (b,), generator=gen).bool() & bool(flip)
        j = torch.arange(w)
        cols = torch.where(fl[:, None], (w - 1 - j)[None, :], j[None, :])  # [b, w]
        rows = (oy[:, None] + torch.arange(h)[None, :]) * wp + ox[:, None]  # [b, h]
        idx = (rows[:, :, None] + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
        x = padded.reshape(b, c, hp * wp).gather(2, idx).view(b, c, h, w)
    if cutout > 0:
        half = cutout // 2
        cy = torch.randint(0, h, (b,), generator=gen)
        cx = torch.randint(0, w, (b,), generator=gen)
        ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
        iny = (ys >= (cy - half).clamp(min=0)[:, None]) & (ys < (cy + half).clamp(max=h)[:, None])
        inx = (xs >= (cx - half).clamp(min=0)[:, None]) & (xs < (cx + half).clamp(max=w)[:, None])
        mask = 1.0 - (iny[:, :, None] & inx[:, None, :]).float()
        x.mul_(mask[:, None])  # in place: x is this batch's own copy
    return x


def cosine_lr(lr_max, lr_min, t, total):
    frac = t / total if total else 0.0
    return lr_min + (lr_max - lr_min) * 0.5 * (1 + math.cos(math.pi * frac))


def train_bench(torch, g, shape, args):
    F = torch.nn.functional
    Network = build_modules(torch)
    epochs, lr_max, lr_min = 2, 0.025, 0.0
    bs, steps = args.batch, args.steps
    n = steps * bs
    start = time.perf_counter()
    torch.manual_seed(0)
    train_x = torch.randn(n, *shape)
    train_y = torch.randint(args.classes, (n,))
    valid_x = torch.randn(bs, *shape)
    valid_y = torch.randint(args.classes, (bs,))
    torch.manual_seed(args.seed)
    model = Network(g, args.cells, args.filters, shape[0], args.classes, channels_last=args.channels_last)
    model.set_drop_path_seed(args.seed + 1)
    gen = torch.Generator().manual_seed(args.seed + 2)
    opt = torch.optim.SGD(model.parameters(), lr=lr_max, momentum=0.9, weight_decay=3e-4)
    params = [p for p in model.parameters() if p.requires_grad]
    total_steps = steps * epochs
    marks, cpu_marks = [], []
    for epoch in range(epochs):
        drop_prob = args.drop_path * epoch / epochs
        model.train()
        order = torch.randperm(n, generator=gen)
        for step in range(steps):
            lr = cosine_lr(lr_max, lr_min, epoch * steps + step, total_steps)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = order[step * bs:(step + 1) * bs]
            x = train_x.index_select(0, idx)
            y = train_y.index_select(0, idx)
            x = augment(torch, x, gen, args.crop, args.flip, args.cutout)
            logits = model(x, drop_prob)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            value = loss.item()
            if not math.isfinite(value):
                sys.exit(f"training diverged at step {step} of epoch {epoch}")
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = (model(valid_x).argmax(-1) == valid_y).sum().item()
        marks.append(time.perf_counter() - start)
        cpu_marks.append(cpu_seconds())
    timed = marks[1] - marks[0]
    print(json.dumps({
        "peer": f"pytorch {torch.__version__}", "what": "nasnet-train", "shape": args.shape,
        "layout": "channels-last" if args.channels_last else "default",
        "threads": torch.get_num_threads(), "steps": steps, "batch": bs,
        "images_per_s": round(n / timed, 2), "ms_per_step": round(timed * 1000 / steps, 1),
        "warmup_images_per_s": round(n / marks[0], 2),
        "cpu_s": round(cpu_marks[1] - cpu_marks[0], 2), "peak_rss_mib": round(peak_rss_mib(), 1),
        "parameters": parameter_count(model), "valid_correct": correct,
    }))


if __name__ == "__main__":
    main()
