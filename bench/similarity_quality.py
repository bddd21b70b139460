#!/usr/bin/env python3
"""How well do similarity plugins know which NAS-Bench-Graph tasks rank architectures alike? (issue 6)

Reference ("what a perfect similarity would know"): for every pair of the 9 tasks, 1 - Spearman's
rho of the validation accuracy of the architectures every task has an entry for (the 2,021 of
proteins' op set; `landmark-archs` with k = 2,000 evaluates all but a handful of them). Then, for
each plugin and setting, per target task: Spearman's rho between the plugin's distances to the 8
other tasks and the reference distances (1 = it orders the sources exactly as the truth does),
averaged over the 9 targets; repeated over plugin seeds (which landmarks, which random draw).

Everything goes through the real binary: `xnas similarity FILE` per setting, reading
similarity.json. Standard library only.

    python3 bench/similarity_quality.py --out bench/out/similarity-quality
"""

import argparse
import json
import math
import pathlib
import statistics
import subprocess
import sys

TASKS = ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins"]


def experiment(similarity):
    return f"""[experiment]
name = "similarity-quality"
seed = 0
budget = {{ evaluations = 10000 }}
[search_space]
plugin = "nasbench-graph"
[optimizer]
plugin = "random"
{similarity}
[tasks]
target = "{TASKS[0]}"
sources = {json.dumps(TASKS[1:])}
"""


def matrix(xnas, out, name, similarity):
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    f = d / "experiment.toml"
    f.write_text(experiment(similarity))
    res = d / "similarity.json"
    if not res.exists():
        subprocess.run([xnas, "--quiet", "similarity", str(f), "--out", str(d), "--workers", "2"],
                       check=True, stdout=subprocess.DEVNULL)
    m = json.loads(res.read_text())
    assert m["tasks"] == TASKS, m["tasks"]
    return m["distances"]


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            r[k] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y):
    a, b = ranks(x), ranks(y)
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    cov = sum((p - ma) * (q - mb) for p, q in zip(a, b))
    va = sum((p - ma) ** 2 for p in a)
    vb = sum((q - mb) ** 2 for q in b)
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0


def agreement(dist, truth):
    """Mean over targets of Spearman(plugin distances to the others, true distances)."""
    per_target = []
    for t in range(len(TASKS)):
        others = [s for s in range(len(TASKS)) if s != t and dist[t][s] is not None]
        per_target.append(spearman([dist[t][s] for s in others], [truth[t][s] for s in others]))
    return statistics.fmean(per_target), per_target


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xnas", default="target/release/xnas")
    ap.add_argument("--out", default="bench/out/similarity-quality")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--ks", default="5,10,20,50")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    truth = matrix(args.xnas, out, "reference",
                   '[similarity]\nplugin = "landmark-archs"\n[similarity.params]\nk = 2000')
    rows = []
    settings = [(f"landmark-archs k={k}",
                 lambda s, k=k: f'[similarity]\nplugin = "landmark-archs"\n[similarity.params]\nk = {k}\nseed = {s + 1}')
                for k in map(int, args.ks.split(","))]
    settings.append(("random", None))
    for label, section in settings:
        scores = []
        for s in range(args.seeds):
            if section is None:
                # The random measure draws from the experiment seed: one matrix per seed.
                text = '[similarity]\nplugin = "random"'
                name = f"random-seed-{s}"
                d = out / name
                d.mkdir(parents=True, exist_ok=True)
                f = d / "experiment.toml"
                f.write_text(experiment(text).replace("seed = 0", f"seed = {s}"))
                if not (d / "similarity.json").exists():
                    subprocess.run([args.xnas, "--quiet", "similarity", str(f), "--out", str(d)],
                                   check=True, stdout=subprocess.DEVNULL)
                dist = json.loads((d / "similarity.json").read_text())["distances"]
            else:
                dist = matrix(args.xnas, out, f"{label.replace(' ', '-').replace('=', '')}-seed-{s}", section(s))
            scores.append(agreement(dist, truth)[0])
        sd = statistics.stdev(scores) if len(scores) > 1 else float("nan")
        rows.append((label, statistics.fmean(scores), sd, min(scores), max(scores)))

    lines = ["| measure | mean ρ with the truth (9 targets) | sd over seeds | min | max |",
             "|---|---|---|---|---|"]
    for label, mean, sd, lo, hi in rows:
        lines.append(f"| {label} | {mean:.3f} | {sd:.3f} | {lo:.3f} | {hi:.3f} |")
    lines.append("")
    lines.append("Reference distances (1 − Spearman ρ over the shared architectures):")
    lines.append("")
    lines.append("| | " + " | ".join(TASKS) + " |")
    lines.append("|---" * (len(TASKS) + 1) + "|")
    for t, row in zip(TASKS, truth):
        lines.append(f"| {t} | " + " | ".join("n/a" if x is None else f"{x:.3f}" for x in row) + " |")
    table = "\n".join(lines)
    print(table)
    (out / "table.md").write_text(table + "\n")


if __name__ == "__main__":
    sys.exit(main())
