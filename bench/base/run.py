"""BASE: adaptation of a meta-learned supernet against DARTS and P-DARTS from scratch (issue 28).

usage: python3 bench/base/run.py [--scale tiny|cpu|small|paper] [--seeds N] [--xnas PATH] [--out DIR]
                                 [--table-only]

1. One meta-training run (`base`) over 5-class subsets of three 28×28 datasets: MNIST, Fashion-
   MNIST and animal-MNIST, classes 0–4 of each.
2. Held out of meta-training: classes 5–9 of MNIST and of Fashion-MNIST (held-out classes), and
   scikit-learn's digits 0–4 at 8×8 (a held-out dataset, of another image size). Per held-out task
   and seed: BASE adapted from the meta-network (its run in `tasks.source_runs`), DARTS (first
   order) and P-DARTS searched from scratch on the same task.
3. Every final cell retrained from scratch under one fixed recipe (`xnas train`, its own seed),
   test accuracy on the task's held-out test rows.
4. The table (bench/base/table.py): per task and method the search (adaptation) seconds and the
   test accuracy, mean ± 95 % interval over seeds; the meta-training seconds and after how many
   new tasks they are paid back by the seconds adaptation saves against each from-scratch search;
   and bench/base/adaptation.svg, the architecture distribution (softmax of Θ over the normal
   cell's edges and ops) of the meta-network and of its adaptations to two held-out tasks.

Everything is written under --out (default runs/base-bench/<scale>); finished runs are kept and
stopped ones resumed, so running the command again continues. Scales: `tiny` checks the pipeline
in minutes; `cpu` (bench/RESULTS.md) and `small` are CPU proxies; `paper` is closer to Shaw
et al.'s (8 cells of 16 channels, thousands of meta-steps) for a GPU.
"""
import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from oneshot_runs import Runner, experiment, split_keys, task_table, test_splits  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

META = {"mnist-04": ("mnist", [0, 1, 2, 3, 4]), "fmnist-04": ("fashion-mnist", [0, 1, 2, 3, 4]),
        "animal-04": ("animal-mnist", [0, 1, 2, 3, 4])}
HELD_OUT = {"mnist-59": ("mnist", [5, 6, 7, 8, 9]), "fmnist-59": ("fashion-mnist", [5, 6, 7, 8, 9]),
            "digits-04": ("digits", [0, 1, 2, 3, 4])}

SCALES = {
    "tiny": dict(limit_train=256, valid=128, test=300, cells=3, channels=4, batch=32,
                 meta=dict(epochs=2, steps_per_epoch=2, tasks_per_step=2, inner_steps=3,
                           arch_learning_rate=0.01),
                 adapt=dict(adapt_steps=6, steps_per_epoch=3, arch_learning_rate=0.01),
                 darts_epochs=1, pdarts=dict(cells=[2, 3], channels=[4, 4], keep=[3], epochs=1,
                                             epochs_weights_only=0, skip_dropout=[0.0, 0.3]),
                 eval=dict(cells=1, filters=8, epochs=1), retrain=dict(cells=1, filters=8, epochs=1)),
    # A CPU proxy sized for about half an hour on one core (3 held-out tasks × 3 seeds).
    "cpu": dict(limit_train=500, valid=250, test=500, cells=3, channels=4, batch=32,
                meta=dict(epochs=6, steps_per_epoch=5, tasks_per_step=2, inner_steps=5,
                          arch_learning_rate=0.01),
                adapt=dict(adapt_steps=20, steps_per_epoch=5, arch_learning_rate=0.01),
                darts_epochs=6, pdarts=dict(cells=[3, 5], channels=[4, 4], keep=[3], epochs=3,
                                            epochs_weights_only=1, skip_dropout=[0.0, 0.3]),
                eval=dict(cells=1, filters=8, epochs=1),
                retrain=dict(cells=1, filters=8, epochs=5, batch_size=16)),
    "small": dict(limit_train=1000, valid=500, test=1000, cells=5, channels=8, batch=32,
                  meta=dict(epochs=20, steps_per_epoch=10, tasks_per_step=2, inner_steps=10,
                            arch_learning_rate=3e-3),
                  adapt=dict(adapt_steps=50, steps_per_epoch=10, arch_learning_rate=3e-3),
                  darts_epochs=10, pdarts=dict(cells=[5, 8, 11], channels=[8, 8, 8], keep=[5, 3],
                                               epochs=4, epochs_weights_only=1,
                                               skip_dropout=[0.0, 0.4, 0.7]),
                  eval=dict(cells=1, filters=8, epochs=1), retrain=dict(cells=1, filters=16, epochs=5)),
    "paper": dict(limit_train=None, valid=0.1, test=None, cells=8, channels=16, batch=64,
                  meta=dict(epochs=100, steps_per_epoch=50, tasks_per_step=4, inner_steps=20,
                            arch_learning_rate=3e-4),
                  adapt=dict(adapt_steps=500, steps_per_epoch=50, arch_learning_rate=3e-4),
                  darts_epochs=50, pdarts=dict(cells=[5, 11, 17], channels=[16, 16, 16], keep=[5, 3],
                                               epochs=25, epochs_weights_only=10,
                                               skip_dropout=[0.0, 0.4, 0.7]),
                  eval=dict(cells=2, filters=16, epochs=10), retrain=dict(cells=2, filters=16, epochs=20)),
}
METHODS = ["base", "darts", "pdarts"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="small", choices=sorted(SCALES))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--xnas", default=str(ROOT / "target/release/xnas"))
    ap.add_argument("--out", default=str(ROOT / "runs/base-bench"))
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    s, out = SCALES[a.scale], Path(a.out).resolve() / a.scale
    if not a.table_only:
        test_splits(out)
        split = split_keys(s["limit_train"], s["valid"], s["test"])
        tasks = [task_table(out, t, data, split, classes) for t, (data, classes) in {**META, **HELD_OUT}.items()]
        r = Runner(a.xnas, out)
        net = dict(cells=s["cells"], channels=s["channels"], batch_size=s["batch"])

        def exp(name, seed, optimizer, target, sources=(), runs=()):
            return experiment(name, seed, s["eval"], tasks, optimizer, target, sources, runs)

        names = list(META)
        meta = r.run(exp("base-meta", 0, ("base", {**net, **s["meta"]}), names[0], names[1:]), "meta")
        for t in HELD_OUT:
            for seed in range(a.seeds):
                at = f"search/{t}/%s/seed-{seed}"
                runs = {
                    "base": r.run(exp("base-adapt", seed, ("base", {"batch_size": s["batch"], **s["adapt"]}),
                                      t, [names[0]], [meta]), at % "base"),
                    "darts": r.run(exp("darts", seed, ("darts", {**net, "epochs": s["darts_epochs"]}), t),
                                   at % "darts"),
                    "pdarts": r.run(exp("pdarts", seed, ("pdarts", {**s["pdarts"], "batch_size": s["batch"],
                                                                    "evaluate_last": 1}), t), at % "pdarts"),
                }
                for m, run in runs.items():
                    r.train(run, f"{t}/{m}/seed-{seed}", t, 1000 + seed, s["retrain"])
    subprocess.run([sys.executable, str(HERE / "table.py"), str(out), str(HERE / "adaptation.svg")], check=True)


if __name__ == "__main__":
    main()
