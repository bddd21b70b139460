#!/usr/bin/env bash
# Training throughput and peak memory of one fixed NASNet-space network on the CPU, xnas against
# the same network in PyTorch, in the same run (issue 5).
#
# The network: the XferNASNet cell (`xnas_space_nasnet::genome::xfernasnet()`), N = 1, F = 16,
# 10 classes, on 32×32×3 (CIFAR shape) and 28×28×1 (Fashion-MNIST shape) random data; batch 64,
# crop 4 + flip, drop-path 0.2 (0.1 in the timed epoch), SGD momentum + per-step cosine, clip 5.
# xnas: plugins/spaces/nasnet/examples/throughput.rs (runs the library's `train`); PyTorch:
# bench/nasnet_peer.py (the same network and step, checked first to have the same genotype,
# parameter count, parameter shapes and mult-adds). Each measurement is its own process: one
# warm-up epoch of $STEPS steps, then a timed epoch of $STEPS steps (plus a one-batch validation
# pass, on both sides); peak memory is the process's VmHWM at its end. xnas and PyTorch alternate,
# $REPS repetitions each, for 1 and 2 threads; the table gives medians. The idle baseline of each
# (libtorch loaded in Rust, `import torch` in Python) is measured the same way.
#
# Needs `make libtorch`; installs the PyTorch peer (torch 2.13.0, cached in
# $XNAS_CACHE/pip/torch-peer) on first use. Appends to bench/results.log.
# Environment: STEPS (default 8), REPS (3), THREADS ("1 2"), SHAPES ("3,32,32 1,28,28"),
# PEER_ARGS (extra arguments of the PyTorch peer's check and training runs: `--channels-last` makes
# the peer's activations channels-last from the stem on, to compare with an xnas that does so).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/torch_peer.sh
. bench/torch_peer.sh
STEPS=${STEPS:-8}
REPS=${REPS:-3}
THREADS=${THREADS:-1 2}
SHAPES=${SHAPES:-3,32,32 1,28,28}
PEER_ARGS=${PEER_ARGS:-}
BATCH=64
cargo build --release -q -p xnas-space-nasnet --example throughput
XNAS=./target/release/examples/throughput
peer() { PYTHONPATH="$PEER" python3 -W ignore bench/nasnet_peer.py "$@"; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
{
  echo "== NASNet-space training throughput and memory vs PyTorch, $(date -u '+%F %H:%M UTC'), $machine"
  echo "   xfernasnet N=1 F=16, batch $BATCH, $STEPS warm-up + $STEPS timed steps, $REPS alternating repetitions${PEER_ARGS:+, PyTorch peer with $PEER_ARGS}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a bench/results.log

# The same network on both sides (fails the script if not): genotype, parameter count and shapes,
# mult-adds from the real output shapes, and, from xnas's initial weights and one batch, the
# logits and every gradient.
dump=$(mktemp)
trap 'rm -f "$log" "$dump"' EXIT
for shape in $SHAPES; do
  echo "-- check $shape"
  # shellcheck disable=SC2086
  peer check --shape "$shape" --rust "$($XNAS --describe --shape "$shape" --dump "$dump")" --rust-dump "$dump" $PEER_ARGS
done
rm -f "$dump"

idle_baselines
for threads in $THREADS; do
  for shape in $SHAPES; do
    alternate --steps "$STEPS" --batch "$BATCH" --shape "$shape" --threads "$threads"
  done
done

summarise <<'PY'
import sys
from peer_table import footer, idle_rss, med, pairs, per_cpu, read, span
rows = read(sys.argv[1])
idle = idle_rss(rows)
measured = pairs(rows, lambda r: r["shape"] if r["what"] == "nasnet-train" else None,
                 lambda k: (k[1], -int(k[0].split(',')[1])))
print(f"idle process peak RSS (median): xnas (libtorch loaded) {idle['xnas']:.0f} MiB, "
      f"PyTorch (`import torch`) {idle['torch']:.0f} MiB")
print()
print("| shape | threads | xnas images/s | PyTorch images/s | xnas / PyTorch | xnas peak MiB | PyTorch peak MiB "
      "| PyTorch / xnas | xnas peak − idle | PyTorch peak − idle | PyTorch / xnas (− idle) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for shape, threads, x, t in measured:
    xi, ti = med(r["images_per_s"] for r in x), med(r["images_per_s"] for r in t)
    xm, tm = med(r["peak_rss_mib"] for r in x), med(r["peak_rss_mib"] for r in t)
    xd, td = xm - idle["xnas"], tm - idle["torch"]
    print(f"| {shape.replace(',', '×')} | {threads} | {xi:.1f} ({span(x)}) | {ti:.1f} ({span(t)}) | {xi / ti:.2f}× "
          f"| {xm:.0f} | {tm:.0f} | {tm / xm:.2f}× | {xd:.0f} | {td:.0f} | {td / xd:.2f}× |")
print()
print("Per CPU-second of the timed epoch (user + system time of all the process's threads): not "
      "affected by time spent waiting for a core, still affected by other load through caches and "
      "threads waiting for each other:")
print()
print("| shape | threads | xnas images/CPU-s | PyTorch images/CPU-s | xnas / PyTorch |")
print("|---|---|---|---|---|")
for shape, threads, x, t in measured:
    print(f"| {shape.replace(',', '×')} | {threads} | {per_cpu(x):.1f} | {per_cpu(t):.1f} | {per_cpu(x) / per_cpu(t):.2f}× |")
print()
print(footer(measured, sys.argv))
PY
