#!/usr/bin/env bash
# Issue 30's benchmark: what xfer costs against its plain optimizer, old training settings against
# the cheaper ones, on TransNAS-Bench-101 micro and NAS-Bench-Graph (leave-one-task-out).
# Runs both compare files with a release xnas, then prints bench/xfer_cost.py's tables (seconds
# per search, cost ratio with its interval, scale-free regret, new − old paired by target and seed).
#   bench/xfer_cost.sh [OUT_DIR] [JOBS]       (default bench/out, 1)
# Build first: cargo build --release -p xnas-host -p xnas-space-tabular-dylib \
#   -p xnas-space-nasbench-graph-dylib -p xnas-opt-random-dylib -p xnas-opt-evolution-dylib \
#   -p xnas-opt-nao-dylib -p xnas-opt-rl-controller-dylib -p xnas-xfer-xfer-dylib
# TransNAS micro is read from ../shared/data next to the repository (see the compare file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
jobs=${2:-1}
xnas=${XNAS:-${CARGO_TARGET_DIR:-$here/../target}/release/xnas}
for bench in transnas nbg; do
    echo "== $bench: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$xnas" --quiet compare "$here/xfer_cost_$bench.toml" --out "$out/xfer_cost_$bench" --jobs "$jobs"
    echo "== $bench done: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$here/xfer_cost.py" "$out/xfer_cost_$bench"
done
