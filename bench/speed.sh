#!/usr/bin/env bash
# Speed of the tch plugins against the same models in PyTorch, in the same run (issue 3):
# one NAO training epoch over 1,000 observations and one PPO update of the controller (M = 20,
# K = 4), on NASNet-size cells (40 decisions) and NAS-Bench-Graph (5), with 1 and 2 threads.
# xnas: bench/xnas-bench/src/bin/speed.rs; PyTorch: bench/pytorch_peer.py (same shapes).
# Needs `make data libtorch`; installs the PyTorch peer (torch 2.13.0 with its CUDA libraries,
# about 5 GB, cached in $XNAS_CACHE/pip/torch-peer) on first use. Appends to bench/results.log.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${XNAS_CACHE:-$HOME/.cache/xnas}
PEER=$CACHE/pip/torch-peer
export LIBTORCH=${LIBTORCH:-$CACHE/libtorch-2.13.0/torch}
if [ ! -f "$PEER/.installed" ]; then
  rm -rf "$PEER.tmp"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target "$PEER.tmp" torch==2.13.0
  rm -rf "$PEER" && mv "$PEER.tmp" "$PEER" && touch "$PEER/.installed"
fi
cargo build --release -q -p xnas-bench --bin speed
log=$(mktemp)
trap 'rm -f "$log"' EXIT
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== tch speed vs PyTorch, $(date -u +%F), $machine" | tee -a bench/results.log
for threads in 1 2; do
  ./target/release/speed --threads "$threads" --runs 10 | tee -a "$log"
  peer() { PYTHONPATH="$PEER" python3 -W ignore bench/pytorch_peer.py "$@" --threads "$threads" | tee -a "$log"; }
  peer nao-epoch --space nasnet-cells-40
  peer nao-epoch --space nasbench-graph-5 --length 5 --vocab 19
  peer ppo-update --space nasnet-cells-40
  peer ppo-update --space nasbench-graph-5 --choices 9,9,9,9,9
done
python3 - "$log" <<'PY' | tee -a bench/results.log
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
key = lambda r: (r["what"], r["space"], r["threads"])
xnas = {key(r): r for r in rows if r["peer"] == "xnas"}
torch = {key(r): r for r in rows if r["peer"] != "xnas"}
print("| measurement | space | threads | xnas ms | PyTorch ms | PyTorch / xnas |")
print("|---|---|---|---|---|---|")
for k in sorted(xnas):
    if k in torch:
        a, b = xnas[k]["median_ms"], torch[k]["median_ms"]
        print(f"| {k[0]} | {k[1]} | {k[2]} | {a:.1f} | {b:.1f} | {b / a:.2f}× |")
PY
