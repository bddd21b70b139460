"""submitit submitting the jobs bench/slurm/run.sh gave xnas: `xnas worker RUN --trial I` for
I in 0..N, as one job array (`map_array`), then waiting for every result, checking each every
POLL seconds as xnas does. Writes JSON to OUT (submitit logs to stdout): the submission time and
each result's arrival, in seconds since the submission started."""

import argparse
import json
import subprocess
import time

import submitit


def evaluate(xnas: str, run: str, trial: int, setup: str) -> float:
    """One trial on a compute node: the same commands an xnas array task runs."""
    subprocess.run(["bash", "-c", setup], check=True)
    subprocess.run([xnas, "worker", run, "--trial", str(trial)], check=True)
    with open(f"{run}/slurm/results/{trial}.json") as f:
        return json.load(f)["ok"]["metric"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--xnas", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--poll", type=float, default=1.0)
    p.add_argument("--setup", default="", help="shell lines run before the worker")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    executor = submitit.AutoExecutor(folder=f"{a.run}/submitit", cluster="slurm")
    executor.update_parameters(timeout_min=5, slurm_mem="150M", slurm_array_parallelism=a.trials)
    n = a.trials
    t0 = time.time()
    jobs = executor.map_array(evaluate, [a.xnas] * n, [a.run] * n, list(range(n)), [a.setup] * n)
    submitted = time.time() - t0
    arrived = {}
    while len(arrived) < n:
        for i, job in enumerate(jobs):
            if i not in arrived and job.done():
                job.result()
                arrived[i] = time.time() - t0
        if len(arrived) < n:
            time.sleep(a.poll)
    with open(a.out, "w") as f:
        json.dump({"submitted": submitted, "arrived": [arrived[i] for i in range(n)]}, f)


if __name__ == "__main__":
    main()
