#!/usr/bin/env bash
# The Slurm executor's overhead against submitit on the same jobs (bench/RESULTS.md, "Slurm
# executor (issue 29)"). For each array size N (default 1, 10, 100): an `xnas run` of N trivial
# trials (NAS-Bench-Graph table lookups, random search, one batch of N, so one job array of N
# tasks), then submitit submitting the very same N jobs (`xnas worker` on a copy of that run's
# trial files, one array through `map_array`) and waiting for their results. Every sbatch,
# squeue, sacct and scancel call of either goes through a counting shim on PATH. All sizes are
# repeated REPS times (default 3), one repetition after another; the table gives medians with
# the min and max, and `uptime` before each repetition and at the end goes to $OUT/uptime.log.
#
#   tests/slurm/cluster.sh up        # as root: the single-node test cluster
#   bench/slurm/run.sh               # prints the table; the raw logs stay in $OUT
#
# SETUP: shell lines every task of both tools runs before `xnas worker` (e.g. "sleep 5", so that
# a run lasts long enough to show a rate of queries per minute; default none).
# XNAS_BIN (default $CARGO_TARGET_DIR/debug/xnas; give a release build for figures), SUBMITIT (submitit installed with
# `pip install --target`; default ~/.cache/xnas/pip/submitit), SIZES, POLL (seconds between two
# state checks, both tools; default 1), OUT (default a new folder under /tmp).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
XNAS=${XNAS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/xnas}
SUBMITIT=${SUBMITIT:-$HOME/.cache/xnas/pip/submitit}
SIZES=${SIZES:-"1 10 100"}
REPS=${REPS:-3}
POLL=${POLL:-1}
SETUP=${SETUP:-}
OUT=${OUT:-$(mktemp -d /tmp/xnas-slurm-bench.XXXXXX)}
[ -x "$XNAS" ] || { echo "no xnas at $XNAS: build it (cargo build -p xnas-host) or set XNAS_BIN" >&2; exit 2; }
[ -d "$SUBMITIT/submitit" ] || { echo "no submitit in $SUBMITIT: pip install --target $SUBMITIT submitit==1.5.4" >&2; exit 2; }
scontrol ping | grep -q UP || { echo "no Slurm controller answers: tests/slurm/cluster.sh up" >&2; exit 2; }

mkdir -p "$OUT/shim"
for c in sbatch squeue sacct scancel; do
  real=$(command -v "$c")
  cat >"$OUT/shim/$c" <<SHIM
#!/bin/sh
echo "$c \$(date +%s.%N)" >>"\${SLURM_CALLS:-/dev/null}"
exec $real "\$@"
SHIM
  chmod +x "$OUT/shim/$c"
done
export PATH="$OUT/shim:$PATH"

for rep in $(seq "$REPS"); do
echo "repetition $rep: $(uptime)" >>"$OUT/uptime.log"
for n in $SIZES; do
  cat >"$OUT/exp-$n-r$rep.toml" <<TOML
[experiment]
name = "slurm-bench-$n-r$rep"
seed = 1
budget = { evaluations = $n }
batch_size = $n

[search_space]
plugin = "nasbench-graph"

[optimizer]
plugin = "random"

[tasks]
target = "cora"

[executor]
kind = "slurm"
time_limit = "00:05:00"
mem_per_trial = "150M"
poll_seconds = $POLL
setup = "$SETUP"
TOML
  s="$n-r$rep"
  run="$OUT/xnas-$s"
  start=$(date +%s.%N)
  SLURM_CALLS="$OUT/xnas-$s.calls" XNAS_LOG=debug "$XNAS" run "$OUT/exp-$s.toml" --out "$run" \
    >/dev/null 2>"$OUT/xnas-$s.log"
  end=$(date +%s.%N)
  echo "$start $end" >"$OUT/xnas-$s.wall"
  # The same jobs for submitit: the run's trial requests, without its results.
  copy="$OUT/submitit-$s"
  mkdir -p "$copy/slurm"
  cp -r "$run/slurm/run.json" "$run/slurm/trials" "$copy/slurm/"
  SLURM_CALLS="$OUT/submitit-$s.calls" PYTHONPATH="$SUBMITIT" python3 "$ROOT/bench/slurm/submitit_jobs.py" \
    --xnas "$XNAS" --run "$copy" --trials "$n" --poll "$POLL" --setup "$SETUP" --out "$OUT/submitit-$s.json" >"$OUT/submitit-$s.log" 2>&1
  # Both evaluated the same trials to the same results.
  python3 - "$run" "$copy" "$n" <<'PY'
import json, sys
a, b, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    ra = json.load(open(f"{a}/slurm/results/{i}.json"))
    rb = json.load(open(f"{b}/slurm/results/{i}.json"))
    assert ra["ok"]["metric"] == rb["ok"]["metric"], (i, ra, rb)
PY
done
done
echo "end: $(uptime)" >>"$OUT/uptime.log"
cat "$OUT/uptime.log" >&2
python3 "$ROOT/bench/slurm/summarize.py" "$OUT" "$REPS" $SIZES
echo "raw logs: $OUT" >&2
