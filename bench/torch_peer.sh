# Sourced by the benchmarks against PyTorch (speed.sh, nasnet_speed.sh, supernet_speed.sh): the
# peer's install and the machine line. The peer is torch 2.13.0 from PyPI, the wheel xnas's
# libtorch comes from (about 5 GB with its CUDA libraries), installed once in
# $XNAS_CACHE/pip/torch-peer; LIBTORCH defaults to `make libtorch`'s install.
CACHE=${XNAS_CACHE:-$HOME/.cache/xnas}
PEER=$CACHE/pip/torch-peer
export LIBTORCH=${LIBTORCH:-$CACHE/libtorch-2.13.0/torch}
if [ ! -f "$PEER/.installed" ]; then
  rm -rf "$PEER.tmp"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target "$PEER.tmp" torch==2.13.0
  rm -rf "$PEER" && mv "$PEER.tmp" "$PEER" && touch "$PEER/.installed"
fi
# shellcheck disable=SC2034  # used by the scripts that source this file
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"

# What the scripts comparing one xnas example with its PyTorch peer share (nasnet_speed.sh,
# supernet_speed.sh); they define XNAS (the example), peer (the peer's command), log and start.

# The idle baselines: REPS processes of each side that only load libtorch / `import torch`.
idle_baselines() {
  for _ in $(seq "$REPS"); do
    $XNAS --idle | tee -a "$log"
    peer idle | tee -a "$log"
  done
}

# One measurement with the given arguments, each in its own process, xnas and the peer alternating,
# REPS repetitions each.
alternate() {
  for _ in $(seq "$REPS"); do
    $XNAS "$@" | grep '^{' | tee -a "$log"
    # shellcheck disable=SC2086  # PEER_ARGS is a list of arguments
    peer train "$@" $PEER_ARGS | tee -a "$log"
  done
}

# Runs the summary program on stdin (Python, with bench/peer_table.py) over the log, giving it the
# script's time and the load average at the end; appends its tables to bench/results.log.
summarise() {
  PYTHONPATH=bench python3 - "$log" "$(($(date +%s) - start))" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a bench/results.log
}
