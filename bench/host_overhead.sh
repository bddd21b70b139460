#!/usr/bin/env bash
# Host overhead per trial (ask → persist → lookup evaluation → persist → tell), as trials per
# second of the search loop, with 1 and 2 workers, against Optuna doing the same loop in the same
# run. Needs `make data build-release` (make bench does both). Results: printed, and appended to
# bench/results.log.
set -euo pipefail
cd "$(dirname "$0")/.."
XNAS=./target/release/xnas
CACHE=${XNAS_CACHE:-$HOME/.cache/xnas}
# The peer is pinned: bench/RESULTS.md cites the version its figures came from.
OPTUNA_VERSION=5.0.0
PEER_PIP=$CACHE/pip/optuna-$OPTUNA_VERSION
NBG_PIP=$CACHE/pip/nas-bench-graph-1.4.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$PEER_PIP/.installed" ]; then
  rm -rf "$PEER_PIP.tmp"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target "$PEER_PIP.tmp" "optuna==$OPTUNA_VERSION"
  rm -rf "$PEER_PIP" && mv "$PEER_PIP.tmp" "$PEER_PIP" && touch "$PEER_PIP/.installed"
fi

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== host overhead, $(date -u '+%F %H:%M UTC'), $machine; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a bench/results.log
for batch in 8 64; do
  for workers in 1 2; do
    for rep in 1 2 3; do
      sed "s/^batch_size = .*/batch_size = $batch/" bench/host_overhead.toml > "$work/exp.toml"
      rm -rf "$work/run"
      "$XNAS" --quiet run "$work/exp.toml" --out "$work/run" --workers "$workers" > /dev/null
      python3 - "$work/run/summary.json" "$batch" "$workers" <<'PY' | tee -a bench/results.log
import json, sys
s = json.load(open(sys.argv[1]))
print(f"xnas batch={sys.argv[2]} workers={sys.argv[3]}: {s['evaluations']} trials in {s['wall_seconds']:.3f} s "
      f"= {s['evaluations'] / s['wall_seconds']:.0f} trials/s")
PY
    done
  done
done
for rep in 1 2 3; do
  rm -f "$work/journal.log"
  PYTHONPATH="$PEER_PIP:$NBG_PIP" python3 bench/optuna_peer.py --trials 2000 --journal "$work/journal.log" | tee -a bench/results.log
done
