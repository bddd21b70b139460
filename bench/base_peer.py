#!/usr/bin/env python3
"""The PyTorch peer of BASE's meta-step benchmark (bench/base_meta_speed.sh).

The network is bench/supernet_peer.py's DARTS search network (the one the DARTS supernet benchmark
checks equal to xnas's), here with one classifier per task (`classifier.t{task}`) and one stem, as
xnas's supernet has for tasks of one image shape. One meta-step is written from docs/plugins/base.md
("Meta-training"), as the `base` optimizer does it (Reptile, Nichol et al. 2018, on BASE's
theta = (w, Theta), Shaw et al. 2019):

1. keep the shared weights and buffers (every variable but the classifiers) as a snapshot; draw m
   distinct tasks;
2. per drawn task j: the shared weights and buffers back to the snapshot's (classifiers keep their
   own), Theta_j <- Theta with a fresh Adam (3e-4, betas (0.5, 0.999), weight decay 1e-3), then K
   inner steps, each the Theta_j step on the task's next alpha batch (a fresh Gumbel-softmax sample
   at tau, d loss / d Theta_j through it, clip_grad_norm_ 5, Adam) then the w step on its next
   training batch (a fresh sample, SGD 0.025 momentum 0.9 weight decay 3e-4, clip_grad_norm_ 5;
   one SGD for the whole run, so its momentum carries over, and a classifier another task's step
   does not reach is left alone); keep w_j and Theta_j;
3. w <- w + eps * mean_j(w_j - w) over the shared weights and buffers, and
   Theta <- Theta + eps * mean_j(Theta_j - Theta).

Data: random images (`--images` per task, half training batches, half alpha batches, each part
cycling and reshuffled per pass as supernet_peer.py's `Cycle`); the data's values do not change
the computation's cost. As in supernet_peer.py, Theta's gradient is torch.autograd.grad on Theta
alone (no weight gradients), and snapshots and the meta-update are torch._foreach ops.

Modes:
  meta    one measurement: one warm-up meta-step, then `--steps` timed ones; prints one JSON line.
  idle    `import torch` and one tiny op, then VmHWM.
  check   `--weights FILE`: an xnas run's artifacts/supernet.weights (every weight and buffer by
          name); compares its variables' names and shapes with the peer's.
"""

import argparse
import json
import math
import sys
import time

from nasnet_peer import cpu_seconds, idle, peak_rss_mib
from supernet_peer import Cycle, build_modules, variables


def network(torch, args, shape):
    Network = build_modules(torch)
    return Network(shape[0], args.classes, args.channels, args.cells, tasks=args.tasks)


def check(torch, args, shape):
    model = network(torch, args, shape)
    # tch saves named tensors as a TorchScript archive, '.' written as '|'.
    saved = torch.jit.load(args.weights)
    theirs = {k.replace("|", "."): tuple(v.shape) for k, v in saved.named_parameters()}
    ours = {k: tuple(v.shape) for k, v in variables(model).items()}
    params = sum(p.numel() for p in model.parameters())
    xnas_params = sum(math.prod(s) for k, s in theirs.items() if "running_" not in k)
    print(f"  variables: xnas {len(theirs)}, PyTorch {len(ours)} (names and shapes); "
          f"parameters: xnas {xnas_params}, PyTorch {params}")
    if theirs != ours or xnas_params != params:
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        print(f"MISMATCH of the networks' shapes: {diff[:5]}", file=sys.stderr)
        return 1
    print("same supernet")
    return 0


def meta(torch, args, shape):
    F = torch.nn.functional
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    half = args.images // 2
    iters = []
    for _ in range(args.tasks):
        x = torch.randn(args.images, *shape)
        y = torch.randint(args.classes, (args.images,))
        iters.append((Cycle(torch, x[:half], y[:half], args.batch, gen),
                      Cycle(torch, x[half:], y[half:], args.batch, gen)))
    model = network(torch, args, shape)
    model.train()
    params = list(model.parameters())
    shared = [p for n, p in model.named_parameters() if not n.startswith("classifier.")]
    # Batch-norm running statistics (classifiers have no buffers): moved like the weights.
    state = shared + [b for b in model.buffers() if b.is_floating_point()]
    sgd = torch.optim.SGD(params, lr=0.025, momentum=0.9, weight_decay=3e-4)
    theta = 1e-3 * torch.randn(28, 8)
    tau, eps = args.tau, 1.0
    inner = []

    def inner_loop(task):
        model.task = f"t{task}"
        w_it, a_it = iters[task]
        theta_j = theta.clone().requires_grad_(True)
        adam = torch.optim.Adam([theta_j], lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        for _ in range(args.inner_steps):
            x, y = a_it.peek()
            a_it.advance()
            loss = F.cross_entropy(model(x, F.gumbel_softmax(theta_j, tau=tau)), y)
            (theta_j.grad,) = torch.autograd.grad(loss, [theta_j])
            torch.nn.utils.clip_grad_norm_([theta_j], 5.0)
            adam.step()
            x, y = w_it.peek()
            w_it.advance()
            loss = F.cross_entropy(model(x, F.gumbel_softmax(theta_j.detach(), tau=tau)), y)
            sgd.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            sgd.step()
            inner.append(loss.item())
        return theta_j.detach()

    def meta_step():
        nonlocal theta
        drawn = torch.randperm(args.tasks, generator=gen)[:args.tasks_per_step].tolist()
        with torch.no_grad():
            base = [t.clone() for t in state]
        ends, thetas = [], []
        for j, task in enumerate(drawn):
            if j > 0:
                with torch.no_grad():
                    torch._foreach_copy_(state, base)
            thetas.append(inner_loop(task))
            with torch.no_grad():
                ends.append([t.clone() for t in state])
        with torch.no_grad():
            mean = ends[0]
            for e in ends[1:]:
                torch._foreach_add_(mean, e)
            torch._foreach_div_(mean, len(ends))
            torch._foreach_lerp_(base, mean, eps)
            torch._foreach_copy_(state, base)
            theta = theta + eps * (torch.stack(thetas).mean(0) - theta)

    meta_step()
    warm, cpu0 = time.perf_counter(), cpu_seconds()
    for _ in range(args.steps):
        meta_step()
    timed, cpu = time.perf_counter() - warm, cpu_seconds() - cpu0
    print(json.dumps({
        "peer": f"pytorch {torch.__version__}", "what": "meta-step", "threads": torch.get_num_threads(),
        "steps": args.steps, "batch": args.batch, "tasks_per_step": args.tasks_per_step,
        "inner_steps": args.inner_steps, "s_per_meta_step": round(timed / args.steps, 3),
        "warmup_s": round(warm - start, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": round(peak_rss_mib(), 1),
        "parameters": sum(p.numel() for p in params), "inner_train_loss": inner[-1],
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["meta", "idle", "check"])
    ap.add_argument("--tasks", type=int, default=2, help="tasks of meta-training (each its own classifier)")
    ap.add_argument("--tasks-per-step", type=int, default=2, help="m")
    ap.add_argument("--inner-steps", type=int, default=5, help="K")
    ap.add_argument("--steps", type=int, default=4, help="timed meta-steps (after one warm-up)")
    ap.add_argument("--images", type=int, default=640, help="random images per task")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--shape", default="1,28,28")
    ap.add_argument("--classes", type=int, default=5, help="classes per task")
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--cells", type=int, default=5)
    ap.add_argument("--tau", type=float, default=1.0, help="Gumbel-softmax temperature")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", help="check: an xnas run's artifacts/supernet.weights")
    args = ap.parse_args()
    if args.mode == "meta" and not 1 <= args.tasks_per_step <= args.tasks:
        ap.error("--tasks-per-step must be between 1 and --tasks")
    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.mode == "idle":
        idle(torch)
        return 0
    shape = tuple(int(s) for s in args.shape.split(","))
    if args.mode == "check":
        if not args.weights:
            ap.error("check needs --weights")
        return check(torch, args, shape)
    meta(torch, args, shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
