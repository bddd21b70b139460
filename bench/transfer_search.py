#!/usr/bin/env python3
"""Leave-one-task-out search efficiency on NAS-Bench-Graph (issue 3).

For every target task, every seed and every method, runs the real `xnas` binary and reads the
run's trials.csv. Regret after k target evaluations = best valid metric in the table for the
target (summary.json `best_possible`) minus the best valid metric found in the first k target
evaluations. Transfer variants get the 8 other tasks as sources with `--source-samples`
architectures each (XferNAS used 200); plain variants get no source knowledge.

Standard library only. Runs `--jobs` searches at a time. Raw per-run regrets go to
`<out>/regrets.json` (a run already there is not repeated, so an interrupted benchmark resumes);
the table to stdout and `<out>/table.md`.

    python3 bench/transfer_search.py --seeds 10 --jobs 2 --out bench/out/transfer-search
"""

import argparse
import concurrent.futures as cf
import csv
import json
import math
import os
import pathlib
import subprocess
import sys
import time

TASKS = ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins"]
CHECKPOINTS = [10, 20, 33, 100]

# Method name -> (optimizer section, transfer section or None). Hyper-parameters of the tch
# optimizers are the bench profile documented in bench/RESULTS.md (fewer epochs than NAO's 1,000
# so 540 searches fit on a 2-core machine); the plain and transfer variants share them.
NAO_PARAMS = 'epochs_first = {ef}\nepochs = {e}\nnormalise = "rank"\n{nao}'
RL_PARAMS = '{rl}'
METHODS = {
    "random": ('[optimizer]\nplugin = "random"\n', None),
    "evolution": ("[optimizer]\nplugin = \"evolution\"\n[optimizer.params]\npopulation = 20\nsample_size = 5\n", None),
    "nao": ('[optimizer]\nplugin = "nao"\n[optimizer.params]\n' + NAO_PARAMS, None),
    "xfer(nao)": (None, '[transfer]\nplugin = "xfer"\nwraps = "nao"\n[transfer.params]\n{xfer}\n'
                  '[optimizer]\nplugin = "nao"\n[optimizer.params]\n' + NAO_PARAMS),
    "rl-controller": ('[optimizer]\nplugin = "rl-controller"\n[optimizer.params]\n' + RL_PARAMS, None),
    "xfer(rl-controller)": (None, '[transfer]\nplugin = "xfer"\nwraps = "rl-controller"\n[transfer.params]\n{xfer}\n'
                            '[optimizer]\nplugin = "rl-controller"\n[optimizer.params]\n' + RL_PARAMS),
}


def experiment(method, target, seed, args):
    plain, transfer = METHODS[method]
    sources = [t for t in TASKS if t != target]
    # `ops = "target"`: the target's table decides what is sampled and proposed, so proteins
    # (5 ops, 2,021 architectures) among the sources does not shrink the other targets' search;
    # proteins source samples outside its table fail and are left out of the source knowledge.
    ops = "target"
    fill = dict(ef=args.epochs_first, e=args.epochs, xfer=args.xfer_params, rl=args.rl_params,
                nao=args.nao_params)
    text = (
        f'[experiment]\nname = "{method}-{target}-{seed}"\nseed = {seed}\n'
        f'budget = {{ evaluations = {args.budget} }}\nbatch_size = {args.batch}\n\n'
        f'[search_space]\nplugin = "nasbench-graph"\n[search_space.params]\nops = "{ops}"\n\n'
    )
    if transfer is None:
        text += plain.format(**fill) + f'\n[tasks]\ntarget = "{target}"\n'
    else:
        text += transfer.format(**fill) + (
            f'\n[tasks]\ntarget = "{target}"\nsources = {json.dumps(sources)}\n'
            f'source_samples = {args.source_samples}\n'
        )
    return text + '\n[executor]\nkind = "local"\nworkers = 1\n'


def regrets(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    best_possible = summary["best_possible"]
    best, curve = -math.inf, []
    with open(run_dir / "trials.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["role"] == "target"]
    rows.sort(key=lambda r: int(r["trial_id"]))
    for r in rows:
        if r["status"] == "ok" and r["metric"] not in ("", "nan", "NaN"):
            best = max(best, float(r["metric"]))
        curve.append(best_possible - best if best > -math.inf else None)
    return {str(k): curve[k - 1] for k in CHECKPOINTS if k <= len(curve)}, summary["wall_seconds"]


def run_one(key, args):
    method, target, seed = key
    work = pathlib.Path(args.out) / "runs" / f"{method}-{target}-{seed}".replace("(", "_").replace(")", "")
    work.parent.mkdir(parents=True, exist_ok=True)
    exp = work.with_suffix(".toml")
    exp.write_text(experiment(method, target, seed, args))
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    t0 = time.time()
    p = subprocess.run([args.xnas, "--quiet", "run", str(exp), "--out", str(work)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{method} on {target} seed {seed} failed:\n{p.stderr}")
    r, wall = regrets(work)
    if not args.keep_runs:
        subprocess.run(["rm", "-rf", str(work)], check=True)
    return key, {"regret": r, "wall_seconds": wall, "process_seconds": time.time() - t0}


def mean_se(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, math.sqrt(var / len(xs))


def table(results, methods, targets, seeds):
    out = []
    head = "| method | " + " | ".join(f"regret@{k}" for k in CHECKPOINTS) + " | s / search |"
    out += ["Mean regret over targets (each target: mean over seeds), ×100:", "", head,
            "|---" * (len(CHECKPOINTS) + 2) + "|"]
    per = {}  # (method, target, k) -> mean over seeds
    for m in methods:
        cells, walls = [], []
        for k in CHECKPOINTS:
            vals = []
            for t in targets:
                rs = [results.get(f"{m}|{t}|{s}", {}).get("regret", {}).get(str(k)) for s in seeds]
                mu, se = mean_se(rs)
                per[(m, t, k)] = (mu, se)
                vals.append(mu)
            cells.append(f"{100 * sum(vals) / len(vals):.2f}")
        for t in targets:
            walls += [results[f"{m}|{t}|{s}"]["wall_seconds"] for s in seeds if f"{m}|{t}|{s}" in results]
        out.append(f"| {m} | " + " | ".join(cells) + f" | {sum(walls) / max(len(walls), 1):.1f} |")
    out += ["", "Per target, regret@33 and regret@100 ×100 (mean ± standard error over seeds):", "",
            "| target | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for t in targets:
        row = []
        for m in methods:
            a, sa = per[(m, t, 33)]
            b, sb = per[(m, t, 100)]
            row.append(f"{100 * a:.2f}±{100 * sa:.2f} / {100 * b:.2f}±{100 * sb:.2f}")
        out.append(f"| {t} | " + " | ".join(row) + " |")
    out += ["", "Checks (xfer vs its plain variant):", ""]
    for plain in ("nao", "rl-controller"):
        xf = f"xfer({plain})"
        if plain not in methods or xf not in methods:
            continue
        x33 = sum(per[(xf, t, 33)][0] for t in targets) / len(targets)
        p100 = sum(per[(plain, t, 100)][0] for t in targets) / len(targets)
        out.append(f"* {xf} regret@33 {100 * x33:.2f} vs {plain} regret@100 {100 * p100:.2f}: "
                   f"{'met' if x33 <= p100 else 'NOT met'}")
        worse = []
        for t in targets:
            for k in CHECKPOINTS:
                (a, sa), (b, sb) = per[(xf, t, k)], per[(plain, t, k)]
                noise = 2 * math.sqrt((sa if sa == sa else 0) ** 2 + (sb if sb == sb else 0) ** 2)
                if a - b > noise:
                    worse.append(f"{t}@{k} ({100 * a:.2f} vs {100 * b:.2f}, 2·SE {100 * noise:.2f})")
        out.append(f"* {xf} worse than {plain} beyond 2 standard errors: "
                   + (", ".join(worse) if worse else "nowhere"))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xnas", default="target/release/xnas")
    ap.add_argument("--out", default="bench/out/transfer-search")
    ap.add_argument("--targets", default=",".join(TASKS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--source-samples", type=int, default=200)
    ap.add_argument("--epochs-first", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--xfer-params", default="", help="TOML lines for [transfer.params]")
    ap.add_argument("--rl-params", default="", help="TOML lines for rl-controller's [optimizer.params] (both variants)")
    ap.add_argument("--nao-params", default="", help="TOML lines for nao's [optimizer.params] (both variants)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep-runs", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    # The parameter options take literal "\n" for line breaks, so one shell word holds several keys.
    for name in ("xfer_params", "rl_params", "nao_params"):
        setattr(args, name, getattr(args, name).replace("\\n", "\n"))
    targets, methods = args.targets.split(","), args.methods.split(",")
    for m in methods:
        if m not in METHODS:
            sys.exit(f"unknown method `{m}`: choose from {', '.join(METHODS)}")
    seeds = list(range(args.seeds))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "regrets.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    todo = [(m, t, s) for m in methods for t in targets for s in seeds if f"{m}|{t}|{s}" not in results]
    if not args.report_only and todo:
        print(f"{len(todo)} searches to run ({len(results)} already done)", file=sys.stderr)
        t0 = time.time()
        with cf.ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_one, key, args) for key in todo]
            for i, f in enumerate(cf.as_completed(futures), 1):
                (m, t, s), r = f.result()
                results[f"{m}|{t}|{s}"] = r
                store.write_text(json.dumps(results, indent=1, sort_keys=True))
                print(f"[{i}/{len(todo)} {time.time() - t0:.0f}s] {m} {t} seed {s}: {r['regret']}",
                      file=sys.stderr)
    text = table(results, methods, targets, seeds)
    (out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
