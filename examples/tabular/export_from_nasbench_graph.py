"""Writes nbg-subset.csv, the table of the `tabular` example: 600 NAS-Bench-Graph architectures
(a fixed random subset) on cora, citeseer and pubmed, in the tabular plugin's CSV format.

    PYTHONPATH=~/.cache/xnas/pip/nas-bench-graph-1.4.0 python3 export_from_nasbench_graph.py

Data: NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets and Benchmarks), PyPI package
nas-bench-graph 1.4.0, Apache-2.0. Genome: link pattern index, then the op of nodes 1..4.
"""
import random

from nas_bench_graph import light_read
from nas_bench_graph.architecture import gnn_list

TASKS = ["cora", "citeseer", "pubmed"]
tables = {t: light_read(t) for t in TASKS}
keys = sorted(set.intersection(*(set(tb) for tb in tables.values())))
random.Random(2022).shuffle(keys)
keys = sorted(keys[:600])

with open("nbg-subset.csv", "w") as f:
    f.write("task,genome,metric,test_metric\n")
    for task in TASKS:
        for key in keys:
            digits = f"{key:05d}"  # link index, then four op indices (base 10)
            genome = "-".join([f"l{digits[0]}"] + [gnn_list[int(d)] for d in digits[1:]])
            row = tables[task][key]
            f.write(f"{task},{genome},{float(row['valid_perf']):.6f},{float(row['perf']):.6f}\n")
print(f"wrote nbg-subset.csv: {len(keys)} architectures x {len(TASKS)} tasks")
