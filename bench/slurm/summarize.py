"""The table of bench/slurm/run.sh from its raw files in OUT: per array size, the mean time from
submission to a trial's result being ingested (xnas: from the `sbatch` of the array to the
trial's row in the store; submitit: from `map_array` to `job.result()`), trials per second
(N over the time from submission to the last result), and the Slurm commands each ran, with
queries (squeue + sacct) per minute."""

import datetime
import json
import re
import sys
from collections import Counter


def stamp(line: str) -> float:
    return datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()


def xnas(out: str, n: int) -> dict:
    submit, ingested = None, []
    for line in open(f"{out}/xnas-{n}.log"):
        if "slurm: sbatch for" in line and submit is None:
            submit = stamp(line)
        elif re.search(r"slurm: trial \d+ ingested", line):
            ingested.append(stamp(line))
    assert submit is not None and len(ingested) == n, (n, submit, len(ingested))
    start, end = map(float, open(f"{out}/xnas-{n}.wall").read().split())
    return {
        "latency": sum(t - submit for t in ingested) / n,
        "span": max(ingested) - submit,
        "wall": end - start,
        "calls": calls(f"{out}/xnas-{n}.calls"),
    }


def submitit(out: str, n: int) -> dict:
    r = json.load(open(f"{out}/submitit-{n}.json"))
    return {
        "latency": sum(r["arrived"]) / n,
        "span": max(r["arrived"]),
        "wall": None,
        "calls": calls(f"{out}/submitit-{n}.calls"),
    }


def calls(path: str) -> tuple:
    try:
        rows = [l.split() for l in open(path)]
    except FileNotFoundError:
        return Counter(), 0.0
    count = Counter(name for name, _ in rows)
    times = [float(t) for _, t in rows]
    return count, (max(times) - min(times)) if times else 0.0


def main() -> None:
    out, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
    print("| N | tool | submit → result, mean (s) | trials/s | sbatch | squeue | sacct | queries/min |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for tool, r in (("xnas", xnas(out, n)), ("submitit", submitit(out, n))):
            count, _ = r["calls"]
            queries = count["squeue"] + count["sacct"]
            per_min = queries / (r["span"] / 60) if r["span"] > 0 else float("nan")
            print(
                f"| {n} | {tool} | {r['latency']:.2f} | {n / r['span']:.2f} | {count['sbatch']} | "
                f"{count['squeue']} | {count['sacct']} | {per_min:.1f} |"
            )


if __name__ == "__main__":
    main()
