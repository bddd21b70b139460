#!/usr/bin/env bash
# Quality per second (issue 26): the searches of quality.toml (xnas compare, one run at a time),
# then each run's best cell retrained from scratch under one fixed recipe with `xnas train`, then
# the table of test accuracy and search seconds (quality.py). Finished searches and retrainings
# are kept, so running it again continues.
# Environment: XNAS (default target/release/xnas; its plugins are found next to it),
# RETRAIN (the recipe's flags, default below), SEEDS (run only the first SEEDS of quality.toml's
# 3 seeds; running again with more adds the missing ones).
set -euo pipefail
cd "$(dirname "$0")/../.."
XNAS=${XNAS:-target/release/xnas}
# The fixed retraining recipe: the comparison's own evaluation network (N = 1 cell per stage,
# F = 8 filters, batch 16, on the task's 1,000 training images; test accuracy on 2,000 test
# images) trained 2 epochs instead of the search's 1, from scratch with another training seed
# than the search used, so that the ask/tell variants' best-of-N selection on the validation
# split does not bias the test figure. A larger recipe (e.g. `--filters 16 --epochs 5`) is the
# same command.
RETRAIN=${RETRAIN:---seed 1 --epochs 2}
out=runs/oneshot-bench
mkdir -p "$out/data"

# MNIST's 10,000-row file (sorted by digit) split into train and test files: every 5th row is a
# test row (2,000, 200 per digit), the rest train rows.
if [ ! -f "$out/data/mnist-test.csv.gz" ]; then
  python3 - "$XNAS_DATA_DIR/images/mnist/mnist-10k.csv.gz" "$out/data" <<'PY'
import gzip, sys
rows = gzip.open(sys.argv[1], "rt").read().splitlines()
with gzip.open(f"{sys.argv[2]}/mnist-train.csv.gz", "wt") as tr, gzip.open(f"{sys.argv[2]}/mnist-test.csv.gz", "wt") as te:
    for i, r in enumerate(rows):
        (te if i % 5 == 0 else tr).write(r + "\n")
PY
fi

file=bench/oneshot/quality.toml
if [ -n "${SEEDS:-}" ]; then
  # The same comparison with fewer seeds, in the same folder (its relative paths stay the same).
  file=bench/oneshot/.quality-seeds.toml
  trap 'rm -f bench/oneshot/.quality-seeds.toml' EXIT
  sed "s/^seeds = 3$/seeds = $SEEDS/" bench/oneshot/quality.toml > "$file"
fi
echo "== searches: load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
"$XNAS" compare "$file" --out "$out/quality" --jobs 1 -q || echo "(xnas compare exited $?: see its messages above)"
echo "== retraining: load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in "$out"/quality/runs/*/*/seed-*/; do
  run=${run%/}
  dest="$out/quality-train/${run#"$out"/quality/runs/}"
  if [ ! -f "$dest/train.json" ]; then
    rm -rf "$dest"
    # shellcheck disable=SC2086  # RETRAIN is a list of flags
    "$XNAS" train "$run" $RETRAIN --out "$dest" -q
  fi
done
echo "== load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/oneshot/quality.py "$out/quality" "$out/quality-train"
