"""Warm-started DARTS against P-DARTS from scratch, leave one task out (issue 27).

usage: python3 bench/ws_darts/run.py [--scale tiny|cpu|small|paper] [--seeds N] [--tasks a,b,...]
                                     [--targets a,b,...] [--xnas PATH] [--out DIR] [--table-only]

For every task of the pool (MNIST, animal-MNIST, scikit-learn's digits at 8x8, and two
class-subset tasks of Fashion-MNIST: its tops and the rest) as the target, the others as sources:

1. TAS once per task (`pdarts` with `transfer_search = true`, seed 0), keeping λ, λ̂ and the
   task's Task2Vec embedding; one meta TAS (λ_meta) per target over the other tasks.
2. Per target and seed: P-DARTS from scratch; WS-DARTS from the nearest source's λ and λ̂ (chosen by
   task2vec among the other tasks' TAS runs: the host leaves the target's own TAS run out);
   WS-DARTS from λ_meta (the meta TAS made without the target); WS-DARTS (λ̂) from a source drawn
   at random (seeded by target and seed), so the value of similarity is measured; and the
   baseline "P-DARTS cell of the most similar task": the nearest TAS run's own derived cell.
3. Every final cell retrained from scratch under one fixed recipe (`xnas train`, its own seed),
   test accuracy on the task's held-out test rows.
4. The table (bench/ws_darts/table.py): search seconds and test accuracy (mean ± 95 % interval
   over the seeds) per target and method, the time saved against P-DARTS from scratch, and the
   Task2Vec distance matrix of the tasks (`xnas similarity` over the pool).

Everything is written under --out (default runs/ws-darts-bench): `exp/` the experiment files,
`tas/`, `meta/`, `search/<target>/<method>/seed-<n>/`, `train/...`, `data/` the test splits.
Finished runs are kept and stopped ones resumed, so running the command again continues.
The scales (`SCALES` below): `tiny` checks the pipeline in minutes; `cpu` (bench/RESULTS.md)
and `small` are CPU proxies; `paper` is Grobelnik & Vanschoren's setting (P-DARTS's 5 / 11 / 17 cells of 16 channels, 25
epochs per stage, batch 96) for a GPU.
"""
import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from oneshot_runs import Runner, experiment, split_keys, task_table, test_splits  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# Search and retraining recipes per scale. `limit_train` training images per task (half train
# the weights, half give the α batches), `valid` validation images, `test` test images.
SCALES = {
    "tiny": dict(limit_train=256, valid=128, test=300, tas_cells=[2, 3], tas_channels=[4, 4],
                 keep=[3], stage_epochs=1, weights_only=0, ws_epochs=2, ws_weights_only=1,
                 batch=32, arch_lr=6e-4, skip_dropout=[0.0, 0.3], ws_skip_dropout=0.3,
                 eval=dict(cells=1, filters=8, epochs=1),
                 retrain=dict(cells=1, filters=8, epochs=1),
                 task2vec=dict(probe_samples=512, probe_epochs=1, max_samples=200)),
    # A CPU proxy sized for about an hour on one core with 3 targets × 3 seeds (--targets).
    "cpu": dict(limit_train=500, valid=250, test=500, tas_cells=[3, 5], tas_channels=[4, 4],
                keep=[3], stage_epochs=2, weights_only=0, ws_epochs=3, ws_weights_only=1,
                batch=32, arch_lr=6e-4, skip_dropout=[0.0, 0.3], ws_skip_dropout=[0.0, 0.3],
                eval=dict(cells=1, filters=8, epochs=1),
                retrain=dict(cells=1, filters=8, epochs=5, batch_size=16),
                task2vec=dict(probe_samples=2000, probe_epochs=1, max_samples=500)),
    "small": dict(limit_train=1000, valid=500, test=1000, tas_cells=[3, 5, 7],
                  tas_channels=[4, 4, 4], keep=[5, 3], stage_epochs=4, weights_only=1,
                  ws_epochs=4, ws_weights_only=1, batch=32, arch_lr=6e-4,
                  skip_dropout=[0.0, 0.4, 0.7], ws_skip_dropout=[0.0, 0.3, 0.6],
                  eval=dict(cells=1, filters=8, epochs=1),
                  retrain=dict(cells=1, filters=16, epochs=5),
                  task2vec=dict(probe_samples=5000, probe_epochs=2, max_samples=1000)),
    "paper": dict(limit_train=None, valid=0.1, test=None, tas_cells=[5, 11, 17],
                  tas_channels=[16, 16, 16], keep=[5, 3], stage_epochs=25, weights_only=10,
                  ws_epochs=25, ws_weights_only=10, batch=96, arch_lr=6e-4,
                  skip_dropout=[0.0, 0.4, 0.7],
                  ws_skip_dropout=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
                  eval=dict(cells=2, filters=16, epochs=10),
                  retrain=dict(cells=2, filters=16, epochs=20),
                  task2vec=dict(probe_samples=20000, probe_epochs=5, max_samples=2000)),
}
# The pool: task -> (dataset, classes).
POOL = {
    "mnist": ("mnist", None),
    "animal-mnist": ("animal-mnist", None),
    "digits": ("digits", None),
    "fmnist-tops": ("fashion-mnist", [0, 2, 3, 4, 6]),
    "fmnist-rest": ("fashion-mnist", [1, 5, 7, 8, 9]),
}


def task2vec(s):
    """task2vec with one probe for every run, trained once on Fashion-MNIST (kept in probes/)."""
    t = s["task2vec"]
    return ("[similarity]\nplugin = \"task2vec\"\n[similarity.params]\n"
            f"probe = {{ preset = \"fashion-mnist\", limit_train = {t['probe_samples']} }}\n"
            f"probe_samples = {t['probe_samples']}\nprobe_epochs = {t['probe_epochs']}\n"
            f"max_samples = {t['max_samples']}\nprobe_dir = \"{s['probe_dir']}\"\n")


def pdarts_params(s, **extra):
    return dict(cells=s["tas_cells"], channels=s["tas_channels"], keep=s["keep"],
                skip_dropout=s["skip_dropout"][:len(s["tas_cells"])], epochs=s["stage_epochs"],
                epochs_weights_only=s["weights_only"], evaluate_last=1, batch_size=s["batch"],
                arch_learning_rate=s["arch_lr"], **extra)


def ws_params(s, warm_start, transfer):
    return dict(warm_start=warm_start, transfer=transfer, epochs=s["ws_epochs"],
                epochs_weights_only=s["ws_weights_only"], evaluate_last=1, batch_size=s["batch"],
                arch_learning_rate=s["arch_lr"], skip_dropout=s["ws_skip_dropout"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="small", choices=sorted(SCALES))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tasks", default=",".join(POOL))
    ap.add_argument("--targets", help="the targets among --tasks (default: every one); the rest "
                    "stay sources")
    ap.add_argument("--xnas", default=str(ROOT / "target/release/xnas"))
    ap.add_argument("--out", default=str(ROOT / "runs/ws-darts-bench"))
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    s, out = SCALES[a.scale], Path(a.out).resolve() / a.scale
    s["probe_dir"] = str(out / "probes")
    pool = a.tasks.split(",")
    unknown = [t for t in pool if t not in POOL]
    if unknown or len(pool) < 3:
        sys.exit(f"--tasks: {unknown or pool}: name at least 3 of {', '.join(POOL)}")
    targets = a.targets.split(",") if a.targets else pool
    if any(t not in pool for t in targets):
        sys.exit(f"--targets: {a.targets}: name tasks of --tasks ({', '.join(pool)})")
    if not a.table_only:
        test_splits(out)
        split = split_keys(s["limit_train"], s["valid"], s["test"])
        tasks = [task_table(out, t, POOL[t][0], split, POOL[t][1]) for t in pool]
        sim = task2vec(s)
        r = Runner(a.xnas, out)

        def exp(name, seed, optimizer, target, sources=(), runs=(), similarity=None, derive=1):
            return experiment(name, seed, s["eval"], tasks, optimizer, target, sources, runs, similarity, derive)

        # 1. TAS per task (keeping its task2vec embedding), and λ_meta without each target.
        tas = {t: r.run(exp(f"tas-{t}", 0, ("pdarts", pdarts_params(s, transfer_search=True)), t, similarity=sim),
                        f"tas/{t}") for t in pool}
        # The Task2Vec distance matrix of the pool (`xnas similarity`, the same probe and settings).
        f = out / "exp" / "similarity.toml"
        f.write_text(exp("similarity", 0, ("pdarts", pdarts_params(s)), pool[0], pool[1:], similarity=sim))
        if not (out / "similarity" / "distances.csv").exists():
            subprocess.run([a.xnas, "-q", "similarity", str(f), "--out", str(out / "similarity")], check=True)
        meta = {}
        for t in targets:
            rest = [x for x in pool if x != t]
            meta[t] = r.run(exp(f"meta-without-{t}", 0,
                                ("pdarts", pdarts_params(s, transfer_search=True, meta_search=True)),
                                rest[0], rest[1:]), f"meta/without-{t}")
        sweep = len(s["ws_skip_dropout"]) if isinstance(s["ws_skip_dropout"], list) else 1
        for t in targets:
            others = [x for x in pool if x != t]
            # The other tasks' TAS runs (a run with trials on the target is refused as a source).
            other_tas = [tas[x] for x in others]
            for seed in range(a.seeds):
                at = f"search/{t}/%s/seed-{seed}"
                ws = {m: ("ws-darts", ws_params(s, start, transfer)) for m, start, transfer in
                      [("ws-lambda", "nearest", "lambda"), ("ws-lambda-hat", "nearest", "lambda_hat"),
                       ("ws-meta", "meta", "lambda_hat"), ("ws-random", "nearest", "lambda_hat")]}
                pick = random.Random(f"{t}/{seed}").choice(others)
                runs = {
                    "pdarts": r.run(exp("pdarts", seed, ("pdarts", pdarts_params(s)), t), at % "pdarts"),
                    "ws-lambda": r.run(exp("ws-lambda", seed, ws["ws-lambda"], t, others, other_tas, sim, sweep),
                                       at % "ws-lambda"),
                    "ws-lambda-hat": r.run(exp("ws-lambda-hat", seed, ws["ws-lambda-hat"], t, others, other_tas, sim,
                                               sweep), at % "ws-lambda-hat"),
                    "ws-meta": r.run(exp("ws-meta", seed, ws["ws-meta"], t, others, [meta[t]], None, sweep),
                                     at % "ws-meta"),
                    # The control: one source drawn at random, no similarity.
                    "ws-random": r.run(exp("ws-random", seed, ws["ws-random"], t, [pick], [tas[pick]], None, sweep),
                                       at % "ws-random"),
                }
                chosen = json.loads((runs["ws-lambda-hat"] / "similarity.json").read_text())["chosen"]
                runs["nearest-cell"] = Path(chosen)
                for m, run in runs.items():
                    r.train(run, f"{t}/{m}/seed-{seed}", t, 1000 + seed, s["retrain"])
    subprocess.run([sys.executable, str(HERE / "table.py"), str(out)], check=True)


if __name__ == "__main__":
    main()
