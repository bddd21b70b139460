#!/usr/bin/env bash
# Issue 30's benchmark: what xfer costs against its plain optimizer, old training settings against
# the cheaper ones, on TransNAS-Bench-101 micro and NAS-Bench-Graph (leave-one-task-out).
# Runs both compare files with a release xnas, then prints bench/xfer_cost.py's tables (seconds
# per search, cost ratio with its interval, scale-free regret, paired differences).
#   bench/xfer_cost.sh [OUT_DIR] [JOBS]       (default bench/out, 1)
# The "old" variants (XferNAS's training: 12–20× the plain search) run on the targets in
# OLD_TARGETS_TRANSNAS / OLD_TARGETS_NBG (space-separated; default class_object jigsaw / cora;
# "all" = every target, the files' full scale; "none" = skip them); every other variant runs on
# every target. The split files are written next to the outputs; their runs are the compare files'
# runs. BENCHES picks the benchmarks (default "transnas nbg"; run one per core to halve the time).
# Build first: cargo build --release -p xnas-host -p xnas-space-tabular-dylib \
#   -p xnas-space-nasbench-graph-dylib -p xnas-opt-random-dylib -p xnas-opt-evolution-dylib \
#   -p xnas-opt-nao-dylib -p xnas-opt-rl-controller-dylib -p xnas-xfer-xfer-dylib
# TransNAS micro is read from ../shared/data next to the repository (see the compare file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
jobs=${2:-1}
xnas=${XNAS:-${CARGO_TARGET_DIR:-$here/../target}/release/xnas}
mkdir -p "$out"
declare -A old=([transnas]="${OLD_TARGETS_TRANSNAS:-class_object jigsaw}" [nbg]="${OLD_TARGETS_NBG:-cora}")
for bench in ${BENCHES:-transnas nbg}; do
    # Split the compare file: every variant but the old ones on every target, the old ones on
    # the chosen targets (named targets: each one's sources are the pool minus itself, as in
    # leave-one-out).
    python3 - "$here/xfer_cost_$bench.toml" "$out/xfer_cost_$bench" "${old[$bench]}" <<'PY'
import json, re, sys
src, dst, targets = sys.argv[1], sys.argv[2], sys.argv[3].split()
text = open(src).read()
base = re.sub(r'^table = "\.\./', 'table = "' + src.rsplit("/", 1)[0] + '/../', text, flags=re.M)
head, *variants = base.split("[[compare.variant]]")
name = lambda v: re.search(r'name = "([^"]+)"', v).group(1)
old = [v for v in variants if name(v).endswith(" old")]
new = [v for v in variants if not name(v).endswith(" old")]
open(dst + "_main.toml", "w").write(head + "".join("[[compare.variant]]" + v for v in new))
if targets != ["all"]:
    pool = re.search(r'^tasks = (\[[^\]]*\])$', head, flags=re.M).group(1)
    head = re.sub(r'^tasks = \[[^\]]*\]\n', "", head, flags=re.M)
    head = head.replace('targets = "leave-one-out"', "targets = " + json.dumps(targets))
    head = head.replace("[tasks]\n", "[tasks]\nsources = " + pool + "\n", 1)
open(dst + "_old.toml", "w").write(head + "".join("[[compare.variant]]" + v for v in old))
PY
    parts=(main old)
    [ "${old[$bench]}" = none ] && parts=(main)
    for part in "${parts[@]}"; do
        echo "== $bench $part: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
        "$xnas" --quiet compare "$out/xfer_cost_${bench}_$part.toml" --out "$out/xfer_cost_${bench}_$part" --jobs "$jobs"
    done
    echo "== $bench done: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$here/xfer_cost.py" "${parts[@]/#/$out/xfer_cost_${bench}_}"
done
