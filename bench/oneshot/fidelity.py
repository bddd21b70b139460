"""Skip connections in the derived normal cell, epoch by epoch, of a DARTS and a P-DARTS run
(issue 26, fidelity): a markdown table on stdout and an SVG plot (no plotting library needed).

usage: python3 fidelity.py DARTS_RUN PDARTS_RUN OUT.svg

Per epoch it reads `skip_count` from each run's epochs.csv (what the optimizer derived: DARTS's
rule for darts, the M-limited cell for pdarts) and recomputes from alpha.csv the count DARTS's
rule gives on that epoch's normal-cell weights (`none` excluded from the edge ranking and the op
choice, two strongest edges per node, ties to the earlier edge and op; quark0/darts genotype()).
For darts the two must agree (checked); for pdarts the second is what its α would give without
the limit of M skip connections.
"""
import csv
import sys

SKIP = "skip_connect"


def epochs(run):
    with open(f"{run}/epochs.csv") as f:
        return list(csv.DictReader(f))


def darts_rule_skips(run):
    """epoch -> (skip connections in the normal cell by DARTS's derivation of alpha.csv, the mean
    weight of skip_connect over the normal cell's edges, divided by the uniform weight)."""
    rows = {}
    with open(f"{run}/alpha.csv") as f:
        reader = csv.DictReader(f)
        ops = [c for c in reader.fieldnames[6:] if c != "genotype"]
        for r in reader:
            if r["cell"] == "normal":
                rows.setdefault(int(r["epoch"]), []).append(r)
    counts = {}
    for epoch, edges in rows.items():
        by_node = {}
        for e in edges:
            weights = {op: float(e[op]) for op in ops if op != "none" and e[op] != ""}
            best = max(weights, key=lambda op: (weights[op], -ops.index(op)))
            by_node.setdefault(int(e["node"]), []).append((weights[best], -int(e["input"]), best))
        skips = 0
        for node_edges in by_node.values():
            kept = sorted(node_edges, reverse=True)[:2]
            skips += sum(1 for _, _, op in kept if op == SKIP)
        # Over the edges where skip_connect is still a candidate (P-DARTS prunes it from some).
        shares = [float(e[SKIP]) * sum(1 for op in ops if e[op] != "") for e in edges if e[SKIP] != ""]
        skip_share = sum(shares) / len(shares) if shares else float("nan")
        counts[epoch] = (skips, skip_share)
    return counts


def svg(series, path, epochs_max):
    w, h, left, right, top, bottom = 640, 360, 50, 190, 20, 40
    ymax = max(4, max(max(v for _, v in s) for _, _, s in series))
    px = lambda e: left + (w - left - right) * (e - 1) / max(1, epochs_max - 1)
    py = lambda v: top + (h - top - bottom) * (1 - v / ymax)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for v in range(ymax + 1):
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v}</text>')
    for e in range(1, epochs_max + 1):
        if e == 1 or e % 5 == 0:
            out.append(f'<text x="{px(e):.1f}" y="{h - bottom + 15}" text-anchor="middle">{e}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 6}" text-anchor="middle">search epoch</text>')
    out.append(f'<text x="12" y="{(top + h - bottom) / 2}" transform="rotate(-90 12 {(top + h - bottom) / 2})" '
               f'text-anchor="middle">skip_connect in the normal cell</text>')
    for i, (name, colour, s) in enumerate(series):
        pts = " ".join(f"{px(e):.1f},{py(v):.1f}" for e, v in s)
        dash = ' stroke-dasharray="5,3"' if "without" in name else ""
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        ly = top + 14 + 18 * i
        out.append(f'<line x1="{w - right + 10}" x2="{w - right + 30}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{w - right + 35}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    darts_run, pdarts_run, out = sys.argv[1:4]
    d, p = epochs(darts_run), epochs(pdarts_run)
    d_rule, p_rule = darts_rule_skips(darts_run), darts_rule_skips(pdarts_run)
    for r in d:
        assert d_rule[int(r["epoch"])][0] == int(r["skip_count"]), f"darts epoch {r['epoch']}: rule disagrees"
    n = max(len(d), len(p))
    print("| epoch | DARTS skips | DARTS skip weight / uniform | DARTS valid acc | P-DARTS stage "
          "| P-DARTS skips (M = 2) | P-DARTS skips without the limit | P-DARTS skip weight / uniform |")
    print("|---|---|---|---|---|---|---|---|")
    for i in range(n):
        a = d[i] if i < len(d) else None
        b = p[i] if i < len(p) else None
        acc = (f"{float(a['valid_accuracy']):.3f}" if a and a["valid_accuracy"] else "—") if a else ""
        dw = f"{d_rule[int(a['epoch'])][1]:.4f}" if a else ""
        pw = f"{p_rule[int(b['epoch'])][1]:.4f}" if b else ""
        print(f"| {i + 1} | {a['skip_count'] if a else ''} | {dw} | {acc} | {int(b['stage']) + 1 if b else ''} "
              f"| {b['skip_count'] if b else ''} | {p_rule[int(b['epoch'])][0] if b else ''} | {pw} |")
    print()
    print(f"DARTS final normal cell: {d[-1]['genotype'].split(' | ')[0]}")
    print(f"P-DARTS final normal cell: {p[-1]['genotype'].split(' | ')[0]}")
    svg([("DARTS", "#d62728", [(i + 1, int(r["skip_count"])) for i, r in enumerate(d)]),
         ("P-DARTS, M = 2", "#1f77b4", [(i + 1, int(r["skip_count"])) for i, r in enumerate(p)]),
         ("P-DARTS without limit", "#1f77b4", [(i + 1, p_rule[int(r["epoch"])][0]) for i, r in enumerate(p)])],
        out, n)


if __name__ == "__main__":
    main()
