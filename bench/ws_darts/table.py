"""The tables of bench/ws_darts/run.py (issue 27) from its output folder.

usage: python3 bench/ws_darts/table.py OUT

Per target and method: search seconds (`summary.json` search.seconds; for "nearest-cell" none:
the cell was searched on the source), the retrained cell's test accuracy (`train.json`
test_metric), each as mean ± 95 % Student-t half-width over the seeds; the time saved against
P-DARTS from scratch (1 − method / P-DARTS, from the means); the source each warm start used.
Then the TAS and λ_meta costs, and the Task2Vec distance matrix (OUT/similarity/distances.csv).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from oneshot_runs import fmt, interval, load  # noqa: E402

METHODS = [
    ("pdarts", "P-DARTS from scratch"),
    ("ws-lambda", "WS-DARTS (λ, nearest)"),
    ("ws-lambda-hat", "WS-DARTS (λ̂, nearest)"),
    ("ws-meta", "WS-DARTS (λ_meta)"),
    ("ws-random", "WS-DARTS (λ̂, random source)"),
    ("nearest-cell", "nearest task's P-DARTS cell, retrained"),
]
def name(run):
    return Path(run).name if run else "—"


def main():
    out = Path(sys.argv[1])
    search = out / "search"
    targets = sorted(p.name for p in search.iterdir() if p.is_dir()) if search.exists() else []
    for t in targets:
        print(f"**{t}**\n")
        print("| method | seeds | search s | time saved vs P-DARTS | test acc | source (per seed) |")
        print("|---|---|---|---|---|---|")
        base = None
        for m, label in METHODS:
            seeds = sorted((search / t / m).glob("seed-*")) if m != "nearest-cell" else \
                sorted((search / t / "ws-lambda-hat").glob("seed-*"))
            secs, tests, used = [], [], []
            for sd in seeds:
                if m != "nearest-cell":
                    s = load(sd / "summary.json")
                    secs.append(s["search"]["seconds"] if s and s.get("search") else None)
                sim = load((search / t / ("ws-lambda-hat" if m == "nearest-cell" else m) / sd.name) / "similarity.json")
                used.append(name(sim.get("chosen")) if sim else "")
                tr = load(out / "train" / t / m / sd.name / "train.json")
                tests.append(tr["test_metric"] if tr else None)
            sm, sh, _ = interval(secs)
            tm, th, n = interval(tests)
            if m == "pdarts":
                base = sm
            saved = f"{100 * (1 - sm / base):.0f} %" if sm is not None and base else "—"
            print(f"| {label} | {n} | {fmt(sm, sh, 1)} | {saved if m != 'pdarts' else ''} | {fmt(tm, th, 3)} "
                  f"| {', '.join(u for u in used if u) or '—'} |")
        print()
    tas = sorted((out / "tas").glob("*")) if (out / "tas").exists() else []
    if tas:
        print("Transfer architecture searches (once per task, seed 0): "
              + ", ".join(f"{p.name} {load(p / 'summary.json')['search']['seconds']:.0f} s"
                          for p in tas if load(p / "summary.json")))
        metas = sorted((out / "meta").glob("*"))
        print("λ_meta searches: " + ", ".join(f"{p.name} {load(p / 'summary.json')['search']['seconds']:.0f} s"
                                              for p in metas if load(p / "summary.json")))
        print()
    matrix = out / "similarity" / "distances.csv"
    if matrix.exists():
        rows = [line.split(",") for line in matrix.read_text().splitlines() if line]
        print("Task2Vec distance (symmetric cosine) between the tasks (`xnas similarity`):\n")
        print("| " + " | ".join(rows[0]) + " |")
        print("|---|" + "---|" * (len(rows[0]) - 1))
        for r in rows[1:]:
            print(f"| {r[0]} | " + " | ".join(f"{float(x):.4f}" for x in r[1:]) + " |")


if __name__ == "__main__":
    main()
