#!/usr/bin/env bash
# Issue 30's benchmark: what xfer costs against its plain optimizer, old training settings against
# the cheaper ones, on TransNAS-Bench-101 micro and NAS-Bench-Graph (leave-one-task-out).
# Runs both compare files with a release xnas, then prints bench/xfer_cost.py's tables (seconds
# per search, cost ratio with its interval, scale-free regret, paired differences).
#   bench/xfer_cost.sh [OUT_DIR] [JOBS]       (default bench/out, 1)
# The "old" variants (XferNAS's training: 12–33× the plain search) run on the targets in
# OLD_TARGETS_TRANSNAS / OLD_TARGETS_NBG (space-separated; default class_object jigsaw / cora;
# "all" = every target, the files' full scale; "none" = skip them), each old variant in a part of
# its own, and OLD_TARGETS_<BENCH>_<OPTIMIZER> (OLD_TARGETS_TRANSNAS_RL_CONTROLLER, …_NAO) sets one
# variant's targets apart; every other variant runs on every target. The split files are written
# next to the outputs; their runs are the compare files' runs (named targets run in the order
# given, so a part stopped early has whole targets first). BENCHES picks the benchmarks (default
# "transnas nbg"; run one per core to halve the time). A replication on other seeds: SEED sets
# the files' experiment seed (default 0: seeds 0–9; SEED=1000: seeds 1000–1009) and VARIANTS keeps
# only the named variants (comma-separated, e.g. "random,xfer(nao)"; keep random, the regret's
# scale); use another OUT_DIR for them.
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
    # Split the compare file: every variant but the old ones on every target, each old one on
    # its chosen targets (named targets: each one's sources are the pool minus itself, as in
    # leave-one-out). Prints the parts written, main first.
    parts=$(python3 - "$here/xfer_cost_$bench.toml" "$out/xfer_cost_$bench" "$bench" "${old[$bench]}" <<'PY'
import json, os, re, sys
src, dst, bench, default = sys.argv[1:]
text = open(src).read()
base = re.sub(r'^table = "\.\./', 'table = "' + src.rsplit("/", 1)[0] + '/../', text, flags=re.M)
if os.environ.get("SEED"):
    base = re.sub(r'^seed = \d+$', "seed = " + str(int(os.environ["SEED"])), base, count=1, flags=re.M)
head, *variants = base.split("[[compare.variant]]")
name = lambda v: re.search(r'name = "([^"]+)"', v).group(1)
if os.environ.get("VARIANTS"):
    keep = [k.strip() for k in os.environ["VARIANTS"].split(",")]
    unknown = set(keep) - {name(v) for v in variants}
    if unknown:
        sys.exit(f"VARIANTS names {sorted(unknown)}, not variants of {src}")
    variants = [v for v in variants if name(v) in keep]
old = [v for v in variants if name(v).endswith(" old")]
new = [v for v in variants if not name(v).endswith(" old")]
open(dst + "_main.toml", "w").write(head + "".join("[[compare.variant]]" + v for v in new))
parts = ["main"]
pool = re.search(r'^tasks = (\[[^\]]*\])$', head, flags=re.M).group(1)
for v in reversed(old):  # the controller's old part (the cheaper) first
    opt = re.search(r'optimizer = \{ plugin = "([^"]+)"', v).group(1)
    key = f"OLD_TARGETS_{bench}_{opt}".upper().replace("-", "_")
    targets = os.environ.get(key, default).split()
    if targets == ["none"]:
        continue
    h = head
    if targets != ["all"]:
        h = re.sub(r'^tasks = \[[^\]]*\]\n', "", h, flags=re.M)
        h = h.replace('targets = "leave-one-out"', "targets = " + json.dumps(targets))
        h = h.replace("[tasks]\n", "[tasks]\nsources = " + pool + "\n", 1)
    part = "old-" + opt
    open(f"{dst}_{part}.toml", "w").write(h + "[[compare.variant]]" + v)
    parts.append(part)
print(" ".join(parts))
PY
)
    for part in $parts; do
        echo "== $bench $part: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
        "$xnas" --quiet compare "$out/xfer_cost_${bench}_$part.toml" --out "$out/xfer_cost_${bench}_$part" --jobs "$jobs"
    done
    echo "== $bench done: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
    dirs=()
    for part in $parts; do dirs+=("$out/xfer_cost_${bench}_$part"); done
    python3 "$here/xfer_cost.py" "${dirs[@]}"
done
