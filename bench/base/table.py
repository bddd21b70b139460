"""The tables and the plot of bench/base/run.py (issue 28) from its output folder.

usage: python3 bench/base/table.py OUT [PLOT.svg]

Per held-out task and method: search seconds (BASE: the adaptation's; `summary.json`
search.seconds) and the retrained cell's test accuracy (`train.json` test_metric), mean ± 95 %
interval over seeds. Then the meta-training run's seconds and its break-even: meta-training
seconds / (mean from-scratch search seconds − mean adaptation seconds), the number of new tasks
after which meta-training has paid for itself against that method. The plot: softmax(Θ) over the
normal cell's edges (rows) and ops (columns) at the meta-network (meta-training's last epoch) and
after adaptation (the adaptation's last epoch, seed 0) on the first two held-out tasks, with the
mean total-variation distance of each adaptation from the meta-network.
"""
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from oneshot_runs import fmt, interval, load  # noqa: E402

METHODS = [("base", "BASE, adapted from the meta-network"), ("darts", "DARTS from scratch"),
           ("pdarts", "P-DARTS from scratch")]


def last_normal(run):
    """(op names, the normal cell's mixing weights per edge) at the run's last epoch."""
    with open(Path(run) / "alpha.csv") as f:
        rows = list(csv.DictReader(f))
    ops = [c for c in rows[0] if c not in ("epoch", "stage", "edge", "cell", "node", "input", "genotype")]
    last = max(int(r["epoch"]) for r in rows)
    edges = [[float(r[o]) if r[o] else 0.0 for o in ops] for r in rows
             if int(r["epoch"]) == last and r["cell"] == "normal"]
    return ops, edges


def tv(a, b):
    return sum(0.5 * sum(abs(x - y) for x, y in zip(ea, eb)) for ea, eb in zip(a, b)) / len(a)


def svg(panels, ops, path):
    cell, left, top, gap = 14, 30, 60, 30
    rows = len(panels[0][1])
    width = left + len(panels) * (len(ops) * cell + gap) + 20
    height = top + rows * cell + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="10">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    vmax = max(max(max(e) for e in w) for _, w in panels)
    for p, (title, w) in enumerate(panels):
        x0 = left + p * (len(ops) * cell + gap)
        out.append(f'<text x="{x0}" y="14" font-size="11">{title}</text>')
        for j, op in enumerate(ops):
            x = x0 + j * cell + cell / 2
            out.append(f'<text x="{x:.1f}" y="{top - 4}" transform="rotate(-60 {x:.1f} {top - 4})">{op}</text>')
        for i, edge in enumerate(w):
            if p == 0:
                out.append(f'<text x="{left - 4}" y="{top + i * cell + 10}" text-anchor="end">{i}</text>')
            for j, v in enumerate(edge):
                shade = int(255 * (1 - v / vmax))
                out.append(f'<rect x="{x0 + j * cell}" y="{top + i * cell}" width="{cell - 1}" height="{cell - 1}" '
                           f'fill="rgb({shade},{shade},255)"><title>edge {i}, {ops[j]}: {v:.4f}</title></rect>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")


def main():
    out = Path(sys.argv[1])
    plot = sys.argv[2] if len(sys.argv) > 2 else None
    search = out / "search"
    targets = sorted(p.name for p in search.iterdir() if p.is_dir()) if search.exists() else []
    meta = load(out / "meta" / "summary.json")
    meta_s = meta["search"]["seconds"] if meta and meta.get("search") else None
    for t in targets:
        print(f"**{t}**\n")
        print("| method | seeds | search s | test acc |")
        print("|---|---|---|---|")
        means = {}
        for m, label in METHODS:
            secs, tests = [], []
            for sd in sorted((search / t / m).glob("seed-*")):
                s = load(sd / "summary.json")
                secs.append(s["search"]["seconds"] if s and s.get("search") else None)
                tr = load(out / "train" / t / m / sd.name / "train.json")
                tests.append(tr["test_metric"] if tr else None)
            sm, sh, _ = interval(secs)
            tm, th, n = interval(tests)
            means[m] = sm
            print(f"| {label} | {n} | {fmt(sm, sh, 1)} | {fmt(tm, th, 3)} |")
        for m in ("darts", "pdarts"):
            if meta_s and means.get(m) and means.get("base") is not None:
                saved = means[m] - means["base"]
                print(f"\nBreak-even against {m}: " +
                      (f"{meta_s / saved:.1f} new tasks ({meta_s:.0f} s of meta-training / {saved:.1f} s saved per task)"
                       if saved > 0 else "never (adaptation is not faster here)"))
        print()
    if meta_s:
        print(f"Meta-training: {meta_s:.0f} s of search ({meta['search']['epochs']} epochs).\n")
    if plot and (out / "meta" / "alpha.csv").exists():
        ops, before = last_normal(out / "meta")
        panels = [("meta-network", before)]
        for t in targets[:2]:
            run = search / t / "base" / "seed-0"
            if (run / "alpha.csv").exists():
                _, after = last_normal(run)
                panels.append((f"adapted to {t}", after))
                print(f"Adaptation to {t} (seed 0) moved softmax(Θ) of the normal cell by a mean total "
                      f"variation of {tv(before, after):.4f} per edge.")
        svg(panels, ops, plot)
        print(f"\nPlot: {plot}")


if __name__ == "__main__":
    main()
