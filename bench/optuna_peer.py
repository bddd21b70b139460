"""Peer for bench/host_overhead.sh: the same loop in Optuna (ask, persist, lookup, persist, tell).

Random sampling over NAS-Bench-Graph's 5 categorical decisions, each trial looked up in the
same table (read from the nas-bench-graph package), with Optuna's JournalStorage on a local file
so that trials survive a crash like xnas's store. Prints trials per second of the loop alone.
"""
import argparse, sys, time

import optuna
from optuna.storages import JournalStorage
try:
    from optuna.storages.journal import JournalFileBackend as FileBackend
except ImportError:  # optuna < 4
    from optuna.storages import JournalFileStorage as FileBackend
from nas_bench_graph import light_read
from nas_bench_graph.architecture import Arch, link_list, gnn_list

ap = argparse.ArgumentParser()
ap.add_argument("--trials", type=int, default=2000)
ap.add_argument("--journal", required=True)
args = ap.parse_args()

bench = light_read("cora")
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = JournalStorage(FileBackend(args.journal))
study = optuna.create_study(storage=storage, direction="maximize",
                            sampler=optuna.samplers.RandomSampler(seed=1))
start = time.perf_counter()
failed = 0
for _ in range(args.trials):
    t = study.ask()
    link = t.suggest_categorical("link", list(range(len(link_list))))
    ops = [t.suggest_categorical(f"op{i}", gnn_list) for i in range(4)]
    key = Arch(link_list[link], ops).valid_hash()
    if key in bench:
        study.tell(t, bench[key]["valid_perf"])
    else:
        failed += 1
        study.tell(t, state=optuna.trial.TrialState.FAIL)
elapsed = time.perf_counter() - start
print(f"optuna {optuna.__version__}: {args.trials} trials in {elapsed:.3f} s = {args.trials / elapsed:.0f} trials/s "
      f"({failed} not in the table)")
