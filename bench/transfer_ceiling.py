#!/usr/bin/env python3
"""How far can source knowledge alone take a search on NAS-Bench-Graph? (issue 3)

The search-efficiency target of issue 3 asks xfer to reach, within 33 target evaluations, the
regret its plain variant reaches after 100. This script measures what the *sources* can give,
without any optimizer: every target architecture is ordered by how well the other 8 tasks rate it,
and the first k of that order are "evaluated" on the target. Regret@k = best valid accuracy in the
target's table minus the best among those k. Orders:

* `full-table`: mean percentile rank over the 8 sources' whole tables (every architecture
  each source has; an upper bound on what any source ranking can know).
* `sampled-200`: what xfer is given (`source_samples = 200`): per seed, 200 architectures drawn
  from each source among those the target's table has (`ops = "target"`), ranked within that
  source; candidates ordered by their mean rank over the sources that drew them, then the
  undrawn architectures in random order. (xnas draws genomes and canonicalises them, which
  favours architectures with many genome forms; this draws canonical keys uniformly.)
* `random`: a uniformly random order (random search without repeats), for scale.

Reads the table `make data` writes (format in plugins/nasbench-graph/convert.py). Standard
library only; about 30 s.

    python3 bench/transfer_ceiling.py [--seeds 10] [--table PATH]
"""

import argparse
import os
import random
import statistics
import struct

BUDGETS = (10, 20, 33, 100)


def read_tables(path):
    """{task: {canonical key: valid accuracy}} from nasbench-graph.bin (version 1)."""
    b = open(path, "rb").read()
    if b[:8] != b"XNASNBG\0":
        raise SystemExit(f"{path}: not a NAS-Bench-Graph table written by convert.py (run `make data`)")
    o = 8

    def u32():
        nonlocal o
        (v,) = struct.unpack_from("<I", b, o)
        o += 4
        return v

    if u32() != 1:
        raise SystemExit(f"{path}: unknown table version; run `make data` again")
    for width in (4, None, 4, 4):  # links (4 bytes each), ops (names), keys, genome -> key
        n = u32()
        if width:
            o += width * n
        else:
            for _ in range(n):
                o += 1 + b[o]
    tables = {}
    for _ in range(u32()):
        n = b[o]
        name = b[o + 1 : o + 1 + n].decode()
        o += 1 + n
        rows = {}
        for _ in range(u32()):
            key, valid, _test, _lat, _params = struct.unpack_from("<Idddd", b, o)
            o += 36
            rows[key] = valid
        tables[name] = rows
    return tables


def percentiles(values):
    """{key: rank / (n - 1)}, 0 = worst, 1 = best."""
    keys = sorted(values, key=values.get)
    n = max(len(keys) - 1, 1)
    return {k: i / n for i, k in enumerate(keys)}


def regrets(table, order):
    best, found, out = max(table.values()), float("-inf"), []
    for i, key in enumerate(order[: max(BUDGETS)]):
        found = max(found, table[key])
        if i + 1 in BUDGETS:
            out.append(best - found)
    return out


def mean_curve(curves):
    return [statistics.mean(c[i] for c in curves) for i in range(len(BUDGETS))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--samples", type=int, default=200, help="architectures per source task")
    ap.add_argument("--table", default=os.path.join(
        os.environ.get("XNAS_DATA_DIR", os.path.expanduser("~/.cache/xnas/data")),
        "nasbench-graph", "nasbench-graph.bin"))
    args = ap.parse_args()
    tables = read_tables(args.table)
    tasks = list(tables)
    ranks = {t: percentiles(tables[t]) for t in tasks}
    methods = ("full-table", f"sampled-{args.samples}", "random")
    per_target = {m: {} for m in methods}
    for target in tasks:
        sources = [s for s in tasks if s != target]
        keys = sorted(tables[target])
        score = {k: statistics.mean(ranks[s][k] for s in sources if k in ranks[s]) for k in keys}
        per_target["full-table"][target] = regrets(tables[target], sorted(keys, key=lambda k: -score[k]))
        sampled, shuffled = [], []
        for seed in range(args.seeds):
            rng = random.Random(seed)
            drawn = {}
            for s in sources:
                pool = [k for k in keys if k in tables[s]]
                pick = rng.sample(pool, min(args.samples, len(pool)))
                r = percentiles({k: tables[s][k] for k in pick})
                for k in pick:
                    drawn.setdefault(k, []).append(r[k])
            order = sorted(drawn, key=lambda k: -statistics.mean(drawn[k]))
            rest = [k for k in keys if k not in drawn]
            rng.shuffle(rest)
            sampled.append(regrets(tables[target], order + rest))
            order = keys[:]
            rng.shuffle(order)
            shuffled.append(regrets(tables[target], order))
        per_target[methods[1]][target] = mean_curve(sampled)
        per_target["random"][target] = mean_curve(shuffled)

    head = " | ".join(f"regret@{k}" for k in BUDGETS)
    print(f"Mean regret ×100 over the {len(tasks)} targets ({args.seeds} seeds for the sampled orders)\n")
    print(f"| order | {head} |\n|---|{'---|' * len(BUDGETS)}")
    for m in methods:
        curve = mean_curve(list(per_target[m].values()))
        print(f"| {m} | " + " | ".join(f"{100 * x:.2f}" for x in curve) + " |")
    print(f"\nPer target, regret@33 / regret@100 ×100\n\n| target | {' | '.join(methods)} |")
    print(f"|---|{'---|' * len(methods)}")
    for t in tasks:
        cells = [f"{100 * per_target[m][t][2]:.2f} / {100 * per_target[m][t][3]:.2f}" for m in methods]
        print(f"| {t} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
