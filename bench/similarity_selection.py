#!/usr/bin/env python3
"""Does choosing sources by similarity help transfer? (issue 6) Reads the `curves.csv` of
`xnas compare bench/similarity_compare.toml` and compares the xfer variants with each other, which
the comparison's own summary does not (it tests each transfer variant against plain nao).

Per budget: mean regret ×100 of each variant over targets and seeds; for "top-3 landmark" against
"all 8" and against "3 random", the paired differences over (target, seed), the number of pairs
each side wins, and a two-sided Wilcoxon signed-rank test (scipy, installed by `make scipy`, found
through PYTHONPATH; without it the test is skipped).

    PYTHONPATH=~/.cache/xnas/pip/scipy python3 bench/similarity_selection.py bench/out/similarity-compare
"""

import csv
import statistics
import sys
from collections import defaultdict

TOP = "xfer(nao) top-3 landmark"
OTHERS = ["xfer(nao) all 8", "xfer(nao) 3 random"]


def main(directory, budgets=(10, 20, 33, 50)):
    regret = defaultdict(dict)  # (variant, target, seed) -> {evaluation: regret}
    with open(f"{directory}/curves.csv") as f:
        for row in csv.DictReader(f):
            key = (row["variant"], row["target"], int(row["seed"]))
            regret[key][int(row["evaluation"])] = float(row["regret"])
    variants = sorted({k[0] for k in regret})
    cells = sorted({(k[1], k[2]) for k in regret})
    try:
        from scipy.stats import wilcoxon
    except ImportError:
        wilcoxon = None

    def at(variant, target, seed, b):
        curve = regret.get((variant, target, seed))
        if not curve:
            return None
        return curve.get(b, curve[max(e for e in curve if e <= b)] if any(e <= b for e in curve) else None)

    lines = ["| variant | " + " | ".join(f"regret ×100 @{b}" for b in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for v in variants:
        cols = []
        for b in budgets:
            xs = [at(v, t, s, b) for t, s in cells]
            xs = [x for x in xs if x is not None]
            sd = statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else float("nan")
            cols.append(f"{100 * statistics.fmean(xs):.2f} ± {100 * sd:.2f} (n={len(xs)})")
        lines.append(f"| {v} | " + " | ".join(cols) + " |")
    lines.append("")
    lines.append("± is one standard error over (target, seed) pairs.")
    lines.append("")
    lines.append(f"| {TOP} against | budget | mean difference ×100 (negative: top-3 better) | top-3 wins / loses / ties | Wilcoxon p |")
    lines.append("|---|---|---|---|---|")
    for other in OTHERS:
        for b in budgets:
            pairs = [(at(TOP, t, s, b), at(other, t, s, b)) for t, s in cells]
            pairs = [(a, c) for a, c in pairs if a is not None and c is not None]
            d = [a - c for a, c in pairs]
            wins = sum(x < 0 for x in d)
            loses = sum(x > 0 for x in d)
            ties = len(d) - wins - loses
            p = "n/a"
            if wilcoxon and any(x != 0 for x in d):
                p = f"{wilcoxon(d).pvalue:.3f}"
            lines.append(f"| {other} | {b} | {100 * statistics.fmean(d):+.2f} | {wins} / {loses} / {ties} | {p} |")
    text = "\n".join(lines)
    print(text)
    with open(f"{directory}/selection.md", "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/out/similarity-compare")
