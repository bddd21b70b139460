#!/usr/bin/env python3
"""Issue 30's cost and regret tables from the finished runs of an `xnas compare` output folder
(bench/xfer_cost_*.toml): seconds per search, the cost of each transfer variant over its plain
optimizer (same target and seed; geometric mean, 95 % bootstrap interval), the scale-free regret
(each target's regret over random search's mean regret at 10 evaluations on that target, mean over
targets) at each budget, and paired differences (by target and seed) of the new xfer settings
against the old, of each transfer variant against its plain optimizer, and of xfer(rl-controller)
against xfer(nao).

    python3 bench/xfer_cost.py bench/out/xfer_cost_transnas [MORE_DIRS…] [--budgets 10,33,100]
        [--seeds 5-9]     (only those seeds: a held-out half, say)
        [--whole]         (a variant's target only with all its seeds: a part stopped early)

Several folders are merged (runs of one target, variant and seed found twice must agree: the same
experiment gives the same trials).
"""
import csv
import json
import math
import random
from collections import Counter
import re
import sys
from pathlib import Path

# Transfer variant -> its plain variant, and new settings -> old settings (the compare files' names).
PLAIN = {"xfer(nao)": "nao", "xfer(nao) old": "nao",
         "xfer(rl-controller)": "rl-controller", "xfer(rl-controller) old": "rl-controller"}
OLD = {"xfer(nao)": "xfer(nao) old", "xfer(rl-controller)": "xfer(rl-controller) old"}
# Paired differences of the scale-free regret: the new settings against the old, each transfer
# variant against its plain optimizer, and the controller's transfer against NAO's.
PAIRS = list(OLD.items()) + list(PLAIN.items())[::2] + [("xfer(rl-controller)", "xfer(nao)")]


def safe(name):
    """The directory name `xnas compare` gives a variant (`xfer(nao) old` -> `xfer-nao-old`)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-")


def load(outs):
    """{(target, variant, seed): (wall seconds, [regret after each target evaluation])}"""
    runs = {}
    summaries = [p for out in outs for p in sorted(Path(out, "runs").glob("*/*/seed-*/summary.json"))]
    for summary in summaries:
        s = json.loads(summary.read_text())
        seed_dir = summary.parent
        best, curve = None, []
        with open(seed_dir / "trials.csv") as f:
            for row in csv.DictReader(f):
                if row["role"] != "target":
                    continue
                if row["status"] == "ok" and row["metric"]:
                    m = float(row["metric"])
                    best = m if best is None else max(best, m)
                curve.append(None if best is None else s["best_possible"] - best)
        key = (seed_dir.parent.parent.name, seed_dir.parent.name, int(seed_dir.name[5:]))
        if key in runs and runs[key][1] != curve:
            sys.exit(f"{summary}: another run of {key} found different trials")
        runs.setdefault(key, (s["wall_seconds"], curve))
    return runs


def interval(values, stat, rng, n=2000):
    boots = sorted(stat([rng.choice(values) for _ in values]) for _ in range(n))
    return boots[int(0.025 * n)], boots[int(0.975 * n) - 1]


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def mean(xs):
    return sum(xs) / len(xs)


def main():
    args = sys.argv[1:]
    budgets = [10, 33, 100]
    if "--budgets" in args:
        i = args.index("--budgets")
        budgets = [int(b) for b in args[i + 1].split(",")]
        del args[i:i + 2]
    keep = None
    if "--seeds" in args:
        i = args.index("--seeds")
        lo, _, hi = args[i + 1].partition("-")
        keep = range(int(lo), int(hi or lo) + 1)
        del args[i:i + 2]
    whole = "--whole" in args
    if whole:
        args.remove("--whole")
    out = ", ".join(args)
    runs = load(args)
    if keep is not None:
        runs = {k: v for k, v in runs.items() if k[2] in keep}
    if whole:
        count = Counter((t, v) for (t, v, _) in runs)
        all_seeds = len({s for (_, _, s) in runs})
        runs = {k: v for k, v in runs.items() if count[k[:2]] == all_seeds}
    rng = random.Random(0)
    by_dir = {}
    for (t, v, s) in runs:
        by_dir.setdefault(v, set()).add((t, s))
    names = {safe(n): n for n in list(PLAIN) + list(PLAIN.values()) + ["random", "evolution"]}
    variants = [v for v in sorted(by_dir)]
    targets = sorted({t for (t, _, _) in runs})
    seeds = sorted({s for (_, _, s) in runs})

    def regret(t, v, s, b):
        c = runs[(t, v, s)][1]
        r = c[min(b, len(c)) - 1] if c else None
        return r

    # Random's mean regret at 10 evaluations per target: the scale of each target.
    scale = {}
    for t in targets:
        rs = [regret(t, "random", s, 10) for s in seeds if (t, "random", s) in runs]
        rs = [r for r in rs if r is not None]
        scale[t] = mean(rs) if rs and mean(rs) > 0 else None
    print(f"{out}: {len(targets)} targets, seeds {seeds}, {len(runs)} runs\n")
    print("| variant | runs | s / search | " + " | ".join(f"scale-free regret@{b}" for b in budgets) + " |")
    print("|---|---|---|" + "---|" * len(budgets))
    for v in variants:
        keys = [(t, s) for (t, s) in by_dir[v]]
        wall = mean([runs[(t, v, s)][0] for (t, s) in keys])
        cells = []
        for b in budgets:
            per_target = []
            for t in targets:
                rs = [regret(t, v, s, b) for s in seeds if (t, v, s) in runs]
                rs = [r for r in rs if r is not None]
                if rs and scale[t]:
                    per_target.append(mean(rs) / scale[t])
            cells.append(f"{mean(per_target):.3f}" if per_target else "–")
        print(f"| {names.get(v, v)} | {len(keys)} | {wall:.1f} | " + " | ".join(cells) + " |")
    print("\nCost over the plain optimizer (wall time of the transfer search / the plain search, same "
          "target and seed; geometric mean, 95 % bootstrap interval over the pairs):\n")
    print("| transfer | plain | pairs | cost ratio | interval |")
    print("|---|---|---|---|---|")
    for tv, pv in PLAIN.items():
        tv_d, pv_d = safe(tv), safe(pv)
        ratios = [runs[(t, tv_d, s)][0] / runs[(t, pv_d, s)][0]
                  for (t, s) in sorted(by_dir.get(tv_d, ())) if (t, pv_d, s) in runs]
        if ratios:
            lo, hi = interval(ratios, geomean, rng)
            print(f"| {tv} | {pv} | {len(ratios)} | {geomean(ratios):.2f}× | [{lo:.2f}, {hi:.2f}] |")
    print("\nPaired by target and seed: mean difference of the scale-free regret (A − B; negative = "
          "A better), 95 % bootstrap interval:\n")
    print("| A | B | pairs | " + " | ".join(f"Δ@{b}" for b in budgets) + " |")
    print("|---|---|---|" + "---|" * len(budgets))
    for nv, ov in PAIRS:
        nv_d, ov_d = safe(nv), safe(ov)
        pairs = [(t, s) for (t, s) in sorted(by_dir.get(nv_d, ())) if (t, ov_d, s) in runs and scale[t]]
        if not pairs:
            continue
        cells = []
        for b in budgets:
            d = [(regret(t, nv_d, s, b) - regret(t, ov_d, s, b)) / scale[t] for (t, s) in pairs
                 if regret(t, nv_d, s, b) is not None and regret(t, ov_d, s, b) is not None]
            lo, hi = interval(d, mean, rng)
            cells.append(f"{mean(d):+.3f} [{lo:+.3f}, {hi:+.3f}]")
        print(f"| {nv} | {ov} | {len(pairs)} | " + " | ".join(cells) + " |")
    wilcoxon_per_target(runs, targets, seeds, budgets)


def wilcoxon_per_target(runs, targets, seeds, budgets):
    """Each transfer variant against its plain optimizer, and the new xfer settings against the
    old, per target: the paired Wilcoxon signed-rank test over seeds at each budget (scipy, from
    XNAS_SCIPY_PATH or the environment; skipped without it). Lists the targets where the first is
    worse or better, p < 0.05."""
    import os
    sys.path.insert(0, os.environ.get("XNAS_SCIPY_PATH", ""))
    try:
        from scipy.stats import wilcoxon
    except ImportError:
        print("\n(scipy not found: no per-target Wilcoxon tests; `make scipy` installs it)")
        return
    print("\nPer target, paired Wilcoxon signed-rank test over seeds (p < 0.05), A against B "
          "(transfer against plain, new settings against old):\n")
    print("| A | B | budget | worse on | better on |")
    print("|---|---|---|---|---|")
    for tv, pv in list(PLAIN.items())[::2] + list(OLD.items()):
        tv_d, pv_d = safe(tv), safe(pv)
        if not any((t, tv_d, s) in runs and (t, pv_d, s) in runs for t in targets for s in seeds):
            continue  # no paired runs (an old variant not run)
        for b in budgets:
            worse, better = [], []
            for t in targets:
                pairs = [(runs[(t, tv_d, s)][1], runs[(t, pv_d, s)][1]) for s in seeds
                         if (t, tv_d, s) in runs and (t, pv_d, s) in runs]
                x = [a[min(b, len(a)) - 1] for a, _ in pairs]
                y = [c[min(b, len(c)) - 1] for _, c in pairs]
                if len(x) < 6 or None in x + y or all(u == v for u, v in zip(x, y)):
                    continue
                p = wilcoxon(x, y).pvalue
                if p < 0.05:
                    (worse if sum(x) > sum(y) else better).append(f"{t} ({p:.3f})")
            print(f"| {tv} | {pv} | {b} | {', '.join(worse) or '–'} | {', '.join(better) or '–'} |")


if __name__ == "__main__":
    main()
