"""The table of bench/slurm/run.sh from its raw files in OUT: per array size N, over the REPS
repetitions, the median (min–max) of the mean time from submission to a trial's result being
ingested (xnas: from the `sbatch` of the array to the trial's row in the store; submitit: from
`map_array` to `job.result()`), of trials per second (N over the time from submission to the last
result), of the Slurm commands each ran, and of queries (squeue + sacct) per minute.

    python3 summarize.py OUT REPS N..."""

import datetime
import json
import re
import statistics
import sys
from collections import Counter


def stamp(line: str) -> float:
    return datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()


def xnas(out: str, s: str, n: int) -> dict:
    submit, ingested = None, []
    for line in open(f"{out}/xnas-{s}.log"):
        if "slurm: sbatch for" in line and submit is None:
            submit = stamp(line)
        elif re.search(r"slurm: trial \d+ ingested", line):
            ingested.append(stamp(line))
    assert submit is not None and len(ingested) == n, (s, submit, len(ingested))
    return sample(sum(t - submit for t in ingested) / n, max(ingested) - submit, n, f"{out}/xnas-{s}.calls")


def submitit(out: str, s: str, n: int) -> dict:
    r = json.load(open(f"{out}/submitit-{s}.json"))
    return sample(sum(r["arrived"]) / n, max(r["arrived"]), n, f"{out}/submitit-{s}.calls")


def sample(latency: float, span: float, n: int, calls_file: str) -> dict:
    try:
        count = Counter(line.split()[0] for line in open(calls_file))
    except FileNotFoundError:
        count = Counter()
    queries = count["squeue"] + count["sacct"]
    return {
        "latency": latency,
        "rate": n / span,
        "sbatch": count["sbatch"],
        "squeue": count["squeue"],
        "sacct": count["sacct"],
        "per_min": queries / (span / 60) if span > 0 else float("nan"),
    }


def cell(values: list, digits: int) -> str:
    med = statistics.median(values)
    if digits == 0 and all(float(v).is_integer() for v in values):
        lo, hi = int(min(values)), int(max(values))
        return f"{med:g}" if lo == hi else f"{med:g} ({lo}–{hi})"
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> None:
    out, reps, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
    print(f"Medians over {reps} repetitions (min–max).\n")
    print("| N | tool | submit → result, mean (s) | trials/s | sbatch | squeue | sacct | queries/min |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for name, tool in (("xnas", xnas), ("submitit", submitit)):
            rows = [tool(out, f"{n}-r{r}", n) for r in range(1, reps + 1)]
            col = lambda k, d: cell([row[k] for row in rows], d)
            print(
                f"| {n} | {name} | {col('latency', 2)} | {col('rate', 2)} | {col('sbatch', 0)} | "
                f"{col('squeue', 0)} | {col('sacct', 0)} | {col('per_min', 1)} |"
            )


if __name__ == "__main__":
    main()
