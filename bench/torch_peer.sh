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
