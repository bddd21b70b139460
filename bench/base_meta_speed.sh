#!/usr/bin/env bash
# One BASE meta-step on the CPU, xnas against the same computation in PyTorch, in the same run
# (issue 28; the DARTS supernet precedent is bench/supernet_speed.sh).
#
# xnas: a real `xnas run` of a `base` meta-training experiment (the release binary and the plugin
# libraries next to it): DARTS's search network (C = $CHANNELS, $CELLS cells, `threads = 1`),
# two tasks, classes 0-4 of MNIST and of Fashion-MNIST ($XNAS_DATA_DIR's presets, 640 training
# images each: 320 for training batches, 320 for α batches), batch $BATCH, m = tasks_per_step 2,
# K = inner_steps $INNER, $EPOCHS epochs of steps_per_epoch = $STEPS meta-steps. Its seconds per
# meta-step come from the run's own `epochs.csv`: `search_seconds` is cumulative, read when an
# epoch's report comes back (its meta-steps, `end_epoch`, the epoch report with its derivation),
# so an epoch's difference also holds the previous epoch's checkpoint and epoch files. The first
# epoch (warm-up) is left out: (search_seconds[last] − search_seconds[0]) / ((EPOCHS − 1) × STEPS).
# The CPU seconds of the same span are the process's (/proc/PID/stat) when each new epochs.csv
# row appears (polled every 0.2 s). After the search the run trains its derived cell as a trial
# (tiny: 1 cell, 1 epoch), outside the span.
# PyTorch: bench/base_peer.py, the same meta-step written from docs/plugins/base.md on
# supernet_peer.py's network with one classifier per task, random images of the same shape (the
# data's values do not change the cost); one warm-up meta-step, then (EPOCHS − 1) × STEPS timed.
# First the first xnas run's `supernet.weights` (every variable by name) is checked against the
# peer's variables (names and shapes); the script stops if they differ. xnas and PyTorch
# alternate, $REPS processes each; the table gives medians.
#
# Both sides run with one thread; pin the whole script to one core to compare on it, e.g.
#   REPS=3 XNAS=target/release/xnas nice -n 19 taskset -c 1 bench/base_meta_speed.sh
# Needs a release build of `xnas` with `libxnas_nasnet.so` and `libxnas_base.so` next to it
# (XNAS, default target/release/xnas; `cargo build --release -p xnas-host -p
# xnas-space-nasnet-dylib -p xnas-opt-base-dylib`) and the MNIST and Fashion-MNIST presets
# (`make data`). Installs the PyTorch peer on first use (bench/torch_peer.sh). Appends to
# bench/results.log. Environment: REPS (3), EPOCHS (3), STEPS (2), INNER (5), BATCH (32),
# CHANNELS (8), CELLS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/torch_peer.sh
. bench/torch_peer.sh
REPS=${REPS:-3}
EPOCHS=${EPOCHS:-3}
STEPS=${STEPS:-2}
INNER=${INNER:-5}
BATCH=${BATCH:-32}
CHANNELS=${CHANNELS:-8}
CELLS=${CELLS:-5}
XNAS=${XNAS:-target/release/xnas}
if [ "$EPOCHS" -lt 2 ]; then
  echo "EPOCHS=$EPOCHS: at least 2 (the first is the warm-up)" >&2
  exit 2
fi
if [ ! -x "$XNAS" ]; then
  echo "$XNAS: no xnas binary; build it (see the header) or set XNAS" >&2
  exit 2
fi
peer() { PYTHONPATH="$PEER:bench" python3 -W ignore bench/base_peer.py "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/rows.jsonl
start=$(date +%s)
cfg=$work/base-speed.toml
task() {
  printf '[search_space.params.tasks.%s]\npreset = "%s"\nclasses = [0, 1, 2, 3, 4]\n' "$1" "$2"
  printf 'limit_train = 640\nvalid = 200\n'
}
{
  cat <<EOF
[experiment]
name = "base-speed"
seed = 0
budget = { epochs = $EPOCHS }

[search_space]
plugin = "nasnet"
[search_space.params]
ops = "darts"
blocks = 4
combine = "add"
concat = "all"
threads = 1
# The derived cell's trial, after the measured span: as small as it gets.
cells = 1
filters = 8
epochs = 1
batch_size = 64

EOF
  task mnist-04 mnist
  task fmnist-04 fashion-mnist
  cat <<EOF

[optimizer]
plugin = "base"
[optimizer.params]
cells = $CELLS
channels = $CHANNELS
batch_size = $BATCH
epochs = $EPOCHS
steps_per_epoch = $STEPS
tasks_per_step = 2
inner_steps = $INNER

[tasks]
target = "mnist-04"
sources = ["fmnist-04"]
EOF
} >"$cfg"

# One xnas run; prints its JSON line (seconds and CPU seconds per warm meta-step).
xnas_run() {
  local dir=$1 seen=0 rows cpu marks=""
  "$XNAS" --quiet run "$cfg" --out "$dir" >"$dir.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    rows=0
    [ -f "$dir/epochs.csv" ] && rows=$(($(wc -l <"$dir/epochs.csv") - 1))
    if [ "$rows" -gt "$seen" ] && cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null); then
      marks="$marks $rows:$cpu"
      seen=$rows
    fi
    sleep 0.2
  done
  if ! wait "$pid"; then
    echo "xnas run failed ($dir.log):" >&2
    tail -5 "$dir.log" >&2
    exit 1
  fi
  python3 - "$dir/epochs.csv" "$STEPS" "$(getconf CLK_TCK)" "$marks" <<'PY'
import csv
import json
import sys
rows = list(csv.DictReader(open(sys.argv[1])))
steps, tick = int(sys.argv[2]), int(sys.argv[3])
s = [float(r["search_seconds"]) for r in rows]
marks = dict(m.split(":") for m in sys.argv[4].split())
warm = (len(s) - 1) * steps
cpu = None
if "1" in marks and str(len(s)) in marks:
    cpu = round((float(marks[str(len(s))]) - float(marks["1"])) / tick / warm, 3)
print(json.dumps({"peer": "xnas", "what": "meta-step", "threads": 1, "steps": warm,
                  "s_per_meta_step": round((s[-1] - s[0]) / warm, 3), "cpu_s_per_meta_step": cpu,
                  "epoch_seconds": [round(b - a, 2) for a, b in zip([0.0] + s, s)]}))
PY
}

{
  echo "== BASE meta-step vs PyTorch, $(date -u '+%F %H:%M UTC'), $machine (nproc under this affinity; CPUs $(awk '/Cpus_allowed_list/ {print $2}' /proc/self/status) of $(getconf _NPROCESSORS_ONLN))"
  echo "   C=$CHANNELS, $CELLS cells, batch $BATCH, 1,28,28, 2 tasks of 5 classes, m=2, K=$INNER, 1 thread; xnas $EPOCHS epochs × $STEPS meta-steps (first left out), PyTorch 1 + $(((EPOCHS - 1) * STEPS)) (first left out); $REPS alternating repetitions; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a bench/results.log

common=(--tasks 2 --tasks-per-step 2 --inner-steps "$INNER" --batch "$BATCH" --channels "$CHANNELS"
        --cells "$CELLS" --classes 5 --shape 1,28,28 --threads 1)
for i in $(seq "$REPS"); do
  xnas_run "$work/run-$i" | tee -a "$log"
  if [ "$i" = 1 ]; then
    # The same supernet on both sides (stops the script if not).
    peer check --weights "$work/run-1/artifacts/supernet.weights" "${common[@]}" | tee -a bench/results.log
  fi
  peer meta --steps $(((EPOCHS - 1) * STEPS)) --images 640 "${common[@]}" | tee -a "$log"
done

PYTHONPATH=bench python3 - "$log" "$(($(date +%s) - start))" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY' | tee -a bench/results.log
import sys
from peer_table import med, read, side
rows = read(sys.argv[1])
x = [r for r in rows if side(r) == "xnas"]
t = [r for r in rows if side(r) == "torch"]


def cell(rs, key):
    vs = [r[key] for r in rs if r.get(key) is not None]
    return f"{med(vs):.2f} ({min(vs):.2f}–{max(vs):.2f})" if vs else "–", (med(vs) if vs else None)


xs, xm = cell(x, "s_per_meta_step")
ts, tm = cell(t, "s_per_meta_step")
xc, xcm = cell(x, "cpu_s_per_meta_step")
tc, tcm = cell([dict(r, cpu=r["cpu_s"] / r["steps"]) for r in t], "cpu")
print()
print("| side | s / meta-step | CPU-s / meta-step |")
print("|---|---|---|")
print(f"| xnas | {xs} | {xc} |")
print(f"| PyTorch | {ts} | {tc} |")
ratio = f"{tcm / xcm:.2f}×" if xcm and tcm else "–"
print(f"| PyTorch / xnas (xnas's speed-up) | {tm / xm:.2f}× | {ratio} |")
print()
print(f"(medians of {len(x)} xnas and {len(t)} PyTorch processes, min–max in brackets; script time "
      f"{sys.argv[2]} s; load average at the end: {sys.argv[3]})")
PY
