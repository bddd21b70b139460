#!/usr/bin/env bash
# Speed of the tch plugins against the same models in PyTorch, in the same run (issue 3):
# one NAO training epoch over 1,000 observations and one PPO update of the controller (M = 20,
# K = 4), on NASNet-size cells (40 decisions) and NAS-Bench-Graph (5), with 1 and 2 threads.
# xnas: plugins/optimizers/rl-controller/examples/speed.rs; PyTorch: bench/pytorch_peer.py (same shapes).
# Each process times RUNS runs after a warm-up and reports their median; xnas and PyTorch processes
# alternate, REPS repetitions each (this VM's run-to-run spread is wide: one process is not a
# measurement). Environment: REPS (default 3), RUNS (10), THREADS ("1 2").
# Needs `make data libtorch`; installs the PyTorch peer (torch 2.13.0 with its CUDA libraries,
# about 5 GB, cached in $XNAS_CACHE/pip/torch-peer) on first use. Appends to bench/results.log.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/torch_peer.sh
. bench/torch_peer.sh
cargo build --release -q -p xnas-opt-rl-controller --example speed
REPS=${REPS:-3}
RUNS=${RUNS:-10}
THREADS=${THREADS:-1 2}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== tch speed vs PyTorch, $(date -u '+%F %H:%M UTC'), $machine, $REPS alternating repetitions of $RUNS runs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a bench/results.log
for threads in $THREADS; do
  for _ in $(seq "$REPS"); do
    ./target/release/examples/speed --threads "$threads" --runs "$RUNS" | tee -a "$log"
    peer() { PYTHONPATH="$PEER" python3 -W ignore bench/pytorch_peer.py "$@" --threads "$threads" --runs "$RUNS" | tee -a "$log"; }
    peer nao-epoch --space nasnet-cells-40
    peer nao-epoch --space nasbench-graph-5 --length 5 --vocab 19
    peer ppo-update --space nasnet-cells-40
    peer ppo-update --space nasbench-graph-5 --choices 9,9,9,9,9
  done
done
python3 - "$log" <<'PY' | tee -a bench/results.log
import json, statistics, sys
from collections import defaultdict
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
key = lambda r: (r["what"], r["space"], r["threads"])
xnas, torch = defaultdict(list), defaultdict(list)
for r in rows:
    (xnas if r["peer"] == "xnas" else torch)[key(r)].append(r["median_ms"])
def cell(v):
    return f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})"
print("| measurement | space | threads | xnas ms | PyTorch ms | PyTorch / xnas |")
print("|---|---|---|---|---|---|")
for k in sorted(xnas):
    if k in torch:
        a, b = statistics.median(xnas[k]), statistics.median(torch[k])
        print(f"| {k[0]} | {k[1]} | {k[2]} | {cell(xnas[k])} | {cell(torch[k])} | {b / a:.2f}× |")
print(f"(each cell: median over the processes of each process's median of its runs, min–max in brackets; load average at the end: {open('/proc/loadavg').read().split()[:3]})")
PY
