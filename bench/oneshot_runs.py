"""What the transfer one-shot benchmarks share (bench/ws_darts/run.py for issue 27,
bench/base/run.py for issue 28): experiment files written from parts, test splits for the image
tasks whose files have none, `xnas run`/`resume`/`train` that keep finished work, and the
mean ± 95 % interval of their tables."""
import gzip
import json
import math
import os
import random
import struct
import subprocess
from pathlib import Path

# Two-sided 95 % Student-t quantiles by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def test_splits(out):
    """Test splits for MNIST, animal-MNIST and digits, whose files have none: every 5th row of a
    seeded permutation is a test row (the files are sorted by class, and `limit_test` keeps the
    first rows), written as CSV with the label first under OUT/data/."""
    data = Path(os.environ["XNAS_DATA_DIR"]) / "images"
    d = out / "data"
    d.mkdir(parents=True, exist_ok=True)

    def write(name, rows):
        if (d / f"{name}-test.csv.gz").exists():
            return
        random.Random(name).shuffle(rows)
        with gzip.open(d / f"{name}-train.csv.gz", "wt") as tr, gzip.open(d / f"{name}-test.csv.gz", "wt") as te:
            for i, r in enumerate(rows):
                (te if i % 5 == 0 else tr).write(r + "\n")

    write("mnist", gzip.open(data / "mnist/mnist-10k.csv.gz", "rt").read().splitlines())
    digits = [r.split(",") for r in gzip.open(data / "digits/digits.csv.gz", "rt").read().splitlines()]
    write("digits", [",".join([r[-1]] + r[:-1]) for r in digits if r and r[0].replace(".", "").isdigit()])
    images = gzip.open(data / "animal-mnist/animal-mnist-images-idx3-ubyte.gz").read()
    labels = gzip.open(data / "animal-mnist/animal-mnist-labels-idx1-ubyte.gz").read()
    n, h, w = struct.unpack(">III", images[4:16])
    px = h * w
    write("animal-mnist", [",".join([str(labels[8 + i])] + [str(b) for b in images[16 + i * px:16 + (i + 1) * px]])
                           for i in range(n)])


def task_table(out, name, dataset, split, classes=None):
    """One `[search_space.params.tasks.NAME]` table: DATASET is mnist, animal-mnist, digits (the
    files test_splits wrote) or fashion-mnist (its preset, with its own test file); CLASSES makes
    it a class-subset task; SPLIT is the lines of the split keys."""
    head = f"[search_space.params.tasks.{name}]\n"
    if dataset == "fashion-mnist":
        head += "preset = \"fashion-mnist\"\n"
    else:
        d = out / "data"
        shape, scale = ([1, 8, 8], 16) if dataset == "digits" else ([1, 28, 28], 255)
        head += (f"format = \"csv\"\ntrain = \"{d / (dataset + '-train.csv.gz')}\"\n"
                 f"test = \"{d / (dataset + '-test.csv.gz')}\"\nshape = {toml_value(shape)}\n"
                 f"label_column = 0\nheader = false\nscale = {scale}\n")
    if classes:
        head += f"classes = {toml_value(classes)}\n"
    return head + split


def split_keys(limit_train, valid, test):
    s = f"valid = {toml_value(valid)}\n"
    if limit_train:
        s += f"limit_train = {limit_train}\n"
    if test:
        s += f"limit_test = {test}\n"
    return s


def experiment(name, seed, evaluation, tasks, optimizer, target, sources=(), runs=(), similarity=None,
               derive=1):
    """An experiment on nasnet's DARTS cell: EVALUATION the derived cell's training recipe
    (cells, filters, epochs), TASKS the task tables, OPTIMIZER (plugin, params), SIMILARITY the
    `[similarity]` section's text or None."""
    text = (f"[experiment]\nname = \"{name}\"\nseed = {seed}\nbudget = {{ epochs = 10000 }}\n\n"
            f"[search_space]\nplugin = \"nasnet\"\n[search_space.params]\nops = \"darts\"\nblocks = 4\n"
            f"combine = \"add\"\nconcat = \"all\"\ncells = {evaluation['cells']}\n"
            f"filters = {evaluation['filters']}\nepochs = {evaluation['epochs']}\nbatch_size = 64\n"
            f"threads = 1\n\n")
    text += "\n".join(tasks) + "\n"
    text += f"[optimizer]\nplugin = \"{optimizer[0]}\"\nderive = {derive}\n[optimizer.params]\n"
    text += "".join(f"{k} = {toml_value(v)}\n" for k, v in optimizer[1].items())
    if similarity:
        text += "\n" + similarity
    text += f"\n[tasks]\ntarget = \"{target}\"\n"
    if sources:
        text += f"sources = {toml_value(list(sources))}\n"
    if runs:
        text += f"source_runs = {toml_value([str(r) for r in runs])}\n"
    return text


class Runner:
    """`xnas run`/`resume`/`train` under OUT, keeping what finished."""

    def __init__(self, xnas, out):
        self.xnas, self.out = xnas, out

    def run(self, exp_text, rel):
        """One experiment, written to OUT/exp/REL.toml, run into OUT/REL/ (resumed if stopped)."""
        f = self.out / "exp" / f"{rel}.toml"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(exp_text)
        d = self.out / rel
        if (d / "summary.json").exists():
            return d
        d.parent.mkdir(parents=True, exist_ok=True)
        cmd = [self.xnas, "-q", "resume", str(d)] if (d / "store.sqlite").exists() else \
              [self.xnas, "-q", "run", str(f), "--out", str(d)]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        return d

    def train(self, run, rel, task, seed, recipe):
        """RUN's best cell trained from scratch on TASK under RECIPE (cells, filters, epochs and
        optionally batch_size), into OUT/train/REL/."""
        d = self.out / "train" / rel
        if (d / "train.json").exists():
            return d
        d.parent.mkdir(parents=True, exist_ok=True)
        cmd = [self.xnas, "-q", "train", str(run), "--task", task, "--seed", str(seed),
               "--cells", str(recipe["cells"]), "--filters", str(recipe["filters"]),
               "--epochs", str(recipe["epochs"]), "--out", str(d)]
        if "batch_size" in recipe:
            cmd[-2:-2] = ["--set", f"batch_size={recipe['batch_size']}"]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        return d


def load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def interval(xs):
    """(mean, 95 % Student-t half-width or None, n) of the values that are not None."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None, 0
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None, 1
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return m, T95.get(len(xs) - 1, 1.96) * sd / math.sqrt(len(xs)), len(xs)


def fmt(m, h, digits):
    if m is None:
        return "—"
    return f"{m:.{digits}f}" + (f" ± {h:.{digits}f}" if h is not None else "")
