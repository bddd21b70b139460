#!/usr/bin/env bash
# Fidelity (issue 26): DARTS's skip-connect collapse and P-DARTS's limit, on the proxy of
# fidelity-darts.toml and fidelity-pdarts.toml. Runs both searches one after the other (a run
# already finished in runs/oneshot-bench/ is kept, a stopped one resumed), then prints the
# per-epoch skip counts (fidelity.py) and draws bench/oneshot/fidelity.svg. The two searches run
# side by side (one libtorch thread each, as the experiment files set), so 2 cores finish both in
# the time of the longer one.
# Environment: XNAS (default target/release/xnas; its plugins are found next to it).
set -euo pipefail
cd "$(dirname "$0")/../.."
XNAS=${XNAS:-target/release/xnas}
out=runs/oneshot-bench
mkdir -p "$out"
search() {
  local m=$1
  if [ -f "$out/fidelity-$m/store.sqlite" ] && [ ! -f "$out/fidelity-$m/summary.json" ]; then
    "$XNAS" resume "$out/fidelity-$m" -q
  elif [ ! -f "$out/fidelity-$m/summary.json" ]; then
    "$XNAS" run "bench/oneshot/fidelity-$m.toml" --out "$out/fidelity-$m" -q
  fi
}
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
search darts & d=$!
search pdarts & p=$!
wait $d
wait $p
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/oneshot/fidelity.py "$out/fidelity-darts" "$out/fidelity-pdarts" bench/oneshot/fidelity.svg
