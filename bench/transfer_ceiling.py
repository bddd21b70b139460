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
* `best-source`: the single source whose whole table ranks the target's architectures most like
  the target does (Spearman over the target's whole table, so it knows the answer), that
  source's order. What choosing the one most similar earlier task (as warm-started DARTS does
  with Task2Vec) could give at best.
* `weighted-after-10`: 10 random target evaluations, then the rest ordered by the sources' whole
  tables weighted by each source's Spearman with the target on those 10 (negative weights 0), as
  a similarity-weighted ensemble of per-task models would with perfect models.
* `random`: a uniformly random order (random search without repeats), for scale.

Reads the table `make data` writes (format in plugins/spaces/nasbench-graph/convert.py). Standard
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


def average_ranks(xs):
    """Ranks 0..n-1 with ties given their mean rank."""
    order = sorted(range(len(xs)), key=xs.__getitem__)
    ranks, i = [0.0] * len(xs), 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(table_a, table_b):
    """Spearman's rho over the keys both tables have (0 where it is undefined)."""
    keys = [k for k in table_a if k in table_b]
    if len(keys) < 3:
        return 0.0
    a = average_ranks([table_a[k] for k in keys])
    b = average_ranks([table_b[k] for k in keys])
    try:
        return statistics.correlation(a, b)
    except statistics.StatisticsError:  # one side constant
        return 0.0


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
    methods = ("full-table", f"sampled-{args.samples}", "best-source", "weighted-after-10", "random")
    per_target = {m: {} for m in methods}
    for target in tasks:
        sources = [s for s in tasks if s != target]
        keys = sorted(tables[target])
        score = {k: statistics.mean(ranks[s][k] for s in sources if k in ranks[s]) for k in keys}
        per_target["full-table"][target] = regrets(tables[target], sorted(keys, key=lambda k: -score[k]))
        best = max(sources, key=lambda s: spearman(tables[s], tables[target]))
        per_target["best-source"][target] = regrets(
            tables[target], sorted(keys, key=lambda k: -ranks[best].get(k, -1.0)))
        sampled, shuffled, weighted = [], [], []
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
            first = order[:10]
            seen = {k: tables[target][k] for k in first}
            w = {s: max(0.0, spearman(tables[s], seen)) for s in sources}

            def rating(k):
                have = [s for s in sources if k in ranks[s] and w[s] > 0]
                total = sum(w[s] for s in have)
                return sum(w[s] * ranks[s][k] for s in have) / total if total else 0.0

            rest = sorted(order[10:], key=lambda k: -rating(k))
            weighted.append(regrets(tables[target], first + rest))
        per_target[methods[1]][target] = mean_curve(sampled)
        per_target["random"][target] = mean_curve(shuffled)
        per_target["weighted-after-10"][target] = mean_curve(weighted)

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
