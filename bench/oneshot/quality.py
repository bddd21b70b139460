"""The quality-per-second table of issue 26 from a comparison directory and its retrainings.

usage: python3 quality.py COMPARE_DIR TRAIN_DIR

COMPARE_DIR/runs/<target>/<variant>/seed-<n>/summary.json: the search (one-shot: `search.seconds`,
the search alone; ask/tell: `wall_seconds`, the whole run; both: the best validation metric).
TRAIN_DIR/<target>/<variant>/seed-<n>/train.json: the best cell retrained (`test_metric`).
Mean over seeds ± the half-width of the 95 % Student-t interval.
"""
import glob
import json
import math
import os
import sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def show(xs):
    """mean ± half-width, "—" for no value, the value alone for one seed."""
    if not xs:
        return "—"
    m, c = mean_ci(xs)
    return f"{m:.3f}" if len(xs) < 2 else f"{m:.3f} ± {c:.3f}"


def mean_ci(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, float("nan")
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return m, T975.get(len(xs) - 1, 1.96) * sd / math.sqrt(len(xs))


def main():
    cmp_dir, train_dir = sys.argv[1:3]
    rows = {}
    for s in sorted(glob.glob(f"{cmp_dir}/runs/*/*/seed-*/summary.json")):
        rel = os.path.relpath(os.path.dirname(s), f"{cmp_dir}/runs")
        target, variant, seed = rel.split(os.sep)
        summary = json.load(open(s))
        search = summary.get("search")
        t = f"{train_dir}/{rel}/train.json"
        train = json.load(open(t)) if os.path.exists(t) else None
        rows.setdefault(target, {}).setdefault(variant, []).append({
            "seed": seed,
            "seconds": search["seconds"] if search else summary["wall_seconds"],
            "wall": summary["wall_seconds"],
            "epochs": search["epochs"] if search else None,
            "evaluations": summary["evaluations"],
            "valid": summary["best"]["metric"] if summary.get("best") else None,
            "test": train["test_metric"] if train else None,
            "train_seconds": train["wall_seconds"] if train else None,
        })
    order = ["darts-1st", "darts-2nd", "pdarts", "random", "evolution"]
    for target, variants in rows.items():
        print(f"**{target}**")
        print()
        print("| variant | seeds | search s (mean) | run wall s (mean) | search epochs / evaluations | "
              "search's best valid acc | retrained test acc (mean ± 95 %) | per seed |")
        print("|---|---|---|---|---|---|---|---|")
        for v in sorted(variants, key=lambda v: order.index(v) if v in order else 99):
            rs = variants[v]
            sec = sum(r["seconds"] for r in rs) / len(rs)
            wall = sum(r["wall"] for r in rs) / len(rs)
            work = (f"{sum(r['epochs'] for r in rs) / len(rs):.1f} epochs" if rs[0]["epochs"] is not None
                    else f"{sum(r['evaluations'] for r in rs) / len(rs):.1f} evals")
            valid = [r["valid"] for r in rs if r["valid"] is not None]
            tests = [r["test"] for r in rs if r["test"] is not None]
            per = ", ".join(f"{x:.3f}" for x in tests)
            print(f"| {v} | {len(rs)} | {sec:.1f} | {wall:.1f} | {work} | {show(valid)} | "
                  f"**{show(tests)}** | {per} |")
        print()


if __name__ == "__main__":
    main()
