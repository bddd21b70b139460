#!/usr/bin/env bash
# One search epoch of DARTS's cell supernet on the CPU, first and second order, xnas against the
# same supernet in PyTorch, in the same run (issue 26).
#
# The supernet: DARTS's search network (every op on every edge) at a proxy scale: C = $CHANNELS,
# $CELLS cells, batch $BATCH, $SHAPE images, 10 classes, $IMAGES random images split half and half
# into w and α parts. xnas: plugins/spaces/nasnet/examples/supernet_throughput.rs (the nasnet space's
# `DartsSearchNet` in xnas-tch's supernet engine, driven through the supernet protocol with Adam on
# α); PyTorch: bench/supernet_peer.py (DARTS's model_search.py and train_search.py loop, with the
# same module names). The script first checks that both are the same supernet (parameter count,
# every variable's name and shape, the logits' shape; then xnas's initial weights loaded into the
# peer give the same logits and ∂loss/∂mix on one batch) and stops if not. Each measurement is its
# own process: one warm-up epoch, then a timed epoch (α step, Adam, w step per w batch; then the
# evaluation over the α part); images/s = w images / the timed epoch's wall time; peak memory is
# the process's VmHWM at its end. xnas and PyTorch alternate, $REPS repetitions each, per order and
# thread count; the table gives medians. The idle baselines (libtorch loaded in Rust,
# `import torch` in Python) are measured the same way.
#
# Needs `make libtorch`; installs the PyTorch peer (torch 2.13.0 from PyPI, the wheel xnas's
# libtorch comes from, cached in $XNAS_CACHE/pip/torch-peer) on first use. Appends to
# bench/results.log. Environment: REPS (default 3), THREADS ("1 2"), ORDERS ("1 2"), IMAGES (512),
# BATCH (32), CHANNELS (8), CELLS (5), SHAPE (1,28,28), PEER_ARGS (e.g. `--channels-last`: the
# peer's activations channels-last from the stem on, the layout xnas uses on the CPU),
# SUPERNET_BIN (an already built release `supernet_throughput`, e.g. one built together with the
# host and plugins, whose unified features make this script's own build recompile much).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/torch_peer.sh
. bench/torch_peer.sh
REPS=${REPS:-3}
THREADS=${THREADS:-1 2}
ORDERS=${ORDERS:-1 2}
IMAGES=${IMAGES:-512}
BATCH=${BATCH:-32}
CHANNELS=${CHANNELS:-8}
CELLS=${CELLS:-5}
SHAPE=${SHAPE:-1,28,28}
PEER_ARGS=${PEER_ARGS:-}
if [ -z "${SUPERNET_BIN:-}" ]; then
  cargo build --release -q -p xnas-space-nasnet --example supernet_throughput
fi
XNAS=${SUPERNET_BIN:-./target/release/examples/supernet_throughput}
peer() { PYTHONPATH="$PEER" python3 -W ignore bench/supernet_peer.py "$@"; }
common=(--images "$IMAGES" --batch "$BATCH" --channels "$CHANNELS" --cells "$CELLS" --shape "$SHAPE")

log=$(mktemp)
dump=$(mktemp)
trap 'rm -f "$log" "$dump"' EXIT
start=$(date +%s)
{
  echo "== DARTS supernet search epoch vs PyTorch, $(date -u '+%F %H:%M UTC'), $machine"
  echo "   C=$CHANNELS, $CELLS cells, batch $BATCH, $SHAPE, $IMAGES images (half w, half α), $REPS alternating repetitions${PEER_ARGS:+, PyTorch peer with $PEER_ARGS}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a bench/results.log

# The same supernet on both sides (fails the script if not).
# shellcheck disable=SC2086  # PEER_ARGS is a list of arguments
peer check --rust "$($XNAS --describe --dump "$dump" "${common[@]}")" --rust-dump "$dump" "${common[@]}" $PEER_ARGS

idle_baselines
for threads in $THREADS; do
  for order in $ORDERS; do
    alternate --order "$order" --threads "$threads" "${common[@]}"
  done
done

summarise <<'PY'
import sys
from peer_table import footer, idle_rss, med, pairs, per_cpu, read, span
rows = read(sys.argv[1])
idle = idle_rss(rows)
measured = pairs(rows, lambda r: r["what"][-1] if r["what"].startswith("supernet-epoch") else None,
                 lambda k: (k[1], k[0]))
print(f"idle process peak RSS (median): xnas {idle['xnas']:.0f} MiB, PyTorch {idle['torch']:.0f} MiB")
print()
print("| order | threads | xnas images/s | PyTorch images/s | xnas / PyTorch | xnas / PyTorch per CPU-s "
      "| xnas peak MiB | PyTorch peak MiB | PyTorch / xnas (− idle) |")
print("|---|---|---|---|---|---|---|---|---|")
for order, threads, x, t in measured:
    xi, ti = med(r["images_per_s"] for r in x), med(r["images_per_s"] for r in t)
    xm, tm = med(r["peak_rss_mib"] for r in x), med(r["peak_rss_mib"] for r in t)
    print(f"| {order} | {threads} | {xi:.1f} ({span(x)}) | {ti:.1f} ({span(t)}) | {xi / ti:.2f}× "
          f"| {per_cpu(x) / per_cpu(t):.2f}× | {xm:.0f} | {tm:.0f} | {(tm - idle['torch']) / (xm - idle['xnas']):.2f}× |")
print()
print(footer(measured, sys.argv))
PY
