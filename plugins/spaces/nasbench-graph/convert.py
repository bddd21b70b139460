#!/usr/bin/env python3
"""Converts NAS-Bench-Graph (PyPI `nas-bench-graph==1.4.0`, Apache-2.0) into the compact binary
table the `nasbench-graph` search-space plugin reads.

Usage:
    PYTHONPATH=<dir with nas_bench_graph and numpy> python3 convert.py --out DIR

Writes DIR/nasbench-graph.bin and DIR/NOTICE.md. The package's pickles hold numpy scalars, so numpy
must be importable. The output is deterministic: the same package version gives the same bytes.

File format (all integers and floats little-endian; version 2):

    magic      8 bytes    b"XNASNBG\\0"
    version    u32        2
    n_links    u32        9
    links      n_links x 4 x u8        the package's `link_list`, in order
    n_ops      u32        9
    ops        n_ops x (u8 len, UTF-8)  the package's `gnn_list`, in order
    n_keys     u32        26206
    keys       n_keys x u32            canonical keys, strictly ascending
    n_genomes  u32        59049 (= n_links * n_ops**4)
    canon      n_genomes x u32         genome index -> index into `keys`, 0xFFFFFFFF = invalid
    n_tasks    u32        9
    per task:
      name     u8 len, UTF-8
      n_rows   u32
      rows     n_rows x (u32 key_index, f64 valid, f64 test, f64 latency_s, f64 params_m),
               strictly ascending key_index
    end        8 bytes    b"NBGEND\\0\\0"
    checksum   32 bytes   SHA-256 of every byte before it (version 2; version 1 ends at `end`)

Accuracies are fractions in [0, 1]; latency (seconds) and parameters (millions) are finite and
>= 0. The reader checks the checksum and every value's range on load.

A genome is [link, op1, op2, op3, op4]; its index is link*9**4 + op1*9**3 + op2*9**2 + op3*9 + op4.
A canonical key is the package's base-10 hash: link_idx*10**4 + sum(op_idx_i * 10**(3-i)) of the
canonical form given by `Arch(link, ops).valid_hash()`.
"""

import argparse
import hashlib
import itertools
import math
import os
import struct
import sys
import time

MAGIC = b"XNASNBG\0"
END = b"NBGEND\0\0"
VERSION = 2
INVALID = 0xFFFFFFFF
TASKS = ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins"]
BIG_TASK_KEYS = 26206
PROTEINS_KEYS = 2021
PACKAGE_VERSION = "1.4.0"


def fail(msg):
    sys.exit(f"convert.py: error: {msg}")


def import_package():
    try:
        import numpy  # noqa: F401  (the pickles hold numpy.float64 scalars)
        import nas_bench_graph
        from nas_bench_graph import architecture
    except ImportError as e:
        fail(
            f"cannot import the NAS-Bench-Graph package ({e}); install it with "
            f"`pip install --target <dir> nas-bench-graph=={PACKAGE_VERSION} numpy` and put <dir> "
            "on PYTHONPATH"
        )
    return nas_bench_graph, architecture


def standard_key(link_idx, op_idxs):
    key = link_idx
    for o in op_idxs:
        key = key * 10 + o
    return key


def decode_key(key, base):
    """Splits a hash of the package's form into (link_idx, [4 op indices])."""
    ops = []
    for _ in range(4):
        ops.append(key % base)
        key //= base
    return key, ops[::-1]


def canonical_table(arch_mod, link_list, gnn_list, table_keys):
    """Canonical key of every genome by the package's own `valid_hash`; None when invalid."""
    n_ops = len(gnn_list)
    canon = []
    for li, link in enumerate(link_list):
        for ops in itertools.product(range(n_ops), repeat=4):
            try:
                key = arch_mod.Arch(list(link), [gnn_list[o] for o in ops]).valid_hash()
            except Exception:  # the package fails on forms it cannot hash
                key = None
            if key is not None and key not in table_keys:
                key = None
            canon.append(key)
    return canon


def rekey_proteins(raw, keyset, arch_mod, link_list, gnn_list):
    """Maps the proteins table into the standard base-10 key space.

    The package documents a proteins op list (gcn sage arma fc skip) and a base-6 hash for it. The
    1.4.0 pickle turns out to be keyed in the standard base-10 space with standard op indices
    already; both readings are tried and the one under which every key is a canonical
    architecture built from proteins ops wins. Anything else fails loudly.
    """
    prot_ops = list(arch_mod.gnn_list_proteins)
    allowed = {gnn_list.index(name) for name in prot_ops}

    def standard_reading():
        out = {}
        for k, v in raw.items():
            k = int(k)
            li, ops = decode_key(k, 10)
            if k not in keyset or li >= len(link_list) or not set(ops) <= allowed:
                return None
            out[k] = v
        return out

    def base6_reading():
        b = len(prot_ops) + 1
        out = {}
        for k, v in raw.items():
            li, ops = decode_key(int(k), b)
            if li >= len(link_list) or any(o >= len(prot_ops) for o in ops):
                return None
            names = [prot_ops[o] for o in ops]
            try:
                key = arch_mod.Arch(list(link_list[li]), names).valid_hash()
            except Exception:
                return None
            if key not in keyset or key in out:
                return None
            out[key] = v
        return out

    got = standard_reading()
    if got is not None:
        print("proteins: keys are already standard base-10 canonical keys (proteins ops only)")
        return got
    got = base6_reading()
    if got is not None:
        print("proteins: re-keyed from the base-6 proteins hash into the standard key space")
        return got
    fail("proteins keys fit neither the standard base-10 hash nor the base-6 proteins hash")


def record(task, key, v):
    try:
        vals = (float(v["valid_perf"]), float(v["perf"]), float(v["latency"]), float(v["para"]))
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{task}: entry {key} is malformed ({e!r}): {v!r}")
    return vals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    t0 = time.time()

    nbg, arch_mod = import_package()
    link_list = [list(x) for x in arch_mod.link_list]
    gnn_list = list(arch_mod.gnn_list)
    if len(link_list) != 9 or len(gnn_list) != 9:
        fail(f"unexpected space: {len(link_list)} link patterns, {len(gnn_list)} ops (want 9, 9)")

    raw = {}
    for task in TASKS:
        try:
            raw[task] = nbg.light_read(task)
        except Exception as e:
            fail(f"cannot read the package's light/{task}.bench: {e}")

    # The 8 big tasks share one key set: the canonical architectures.
    keyset = set(int(k) for k in raw["cora"])
    for task in TASKS[:-1]:
        ks = set(int(k) for k in raw[task])
        print(f"{task:10s} {len(ks):6d} keys")
        if len(ks) != BIG_TASK_KEYS:
            fail(f"{task}: {len(ks)} keys, expected {BIG_TASK_KEYS}")
        if ks != keyset:
            fail(f"{task}: key set differs from cora's")
    keys = sorted(keyset)
    key_index = {k: i for i, k in enumerate(keys)}

    canon = canonical_table(arch_mod, link_list, gnn_list, keyset)
    n_ops = len(gnn_list)
    reached = set(k for k in canon if k is not None)
    invalid = [i for i, k in enumerate(canon) if k is None]
    if reached != keyset:
        fail(
            f"valid_hash reaches {len(reached)} keys, the tables hold {len(keyset)} "
            f"({len(keyset - reached)} unreached)"
        )
    skip = gnn_list.index("skip")
    all_skip = [
        li * n_ops**4 + sum(skip * n_ops**i for i in range(4)) for li in range(len(link_list))
    ]
    if invalid != all_skip:
        fail(f"{len(invalid)} genomes have no table entry; expected exactly the 9 all-skip ones")
    # Canonical forms must be fixed points, so the Rust side can decode a key into a genome.
    for k in keys:
        li, ops = decode_key(k, 10)
        if li >= len(link_list) or any(o >= n_ops for o in ops):
            fail(f"key {k} does not decode into a genome")
        g = ((li * n_ops + ops[0]) * n_ops + ops[1]) * n_ops + ops[2]
        g = g * n_ops + ops[3]
        if canon[g] != k:
            fail(f"key {k} is not a fixed point of the canonicalisation")

    proteins = rekey_proteins(raw["proteins"], keyset, arch_mod, link_list, gnn_list)
    print(f"{'proteins':10s} {len(proteins):6d} keys")
    if len(proteins) != PROTEINS_KEYS:
        fail(f"proteins: {len(proteins)} keys, expected {PROTEINS_KEYS}")

    out = bytearray()
    out += MAGIC
    out += struct.pack("<I", VERSION)
    out += struct.pack("<I", len(link_list))
    for link in link_list:
        out += bytes(link)
    out += struct.pack("<I", len(gnn_list))
    for name in gnn_list:
        b = name.encode()
        out += struct.pack("<B", len(b)) + b
    out += struct.pack("<I", len(keys))
    out += struct.pack(f"<{len(keys)}I", *keys)
    out += struct.pack("<I", len(canon))
    out += struct.pack(
        f"<{len(canon)}I", *(INVALID if k is None else key_index[k] for k in canon)
    )
    out += struct.pack("<I", len(TASKS))
    nonfinite = 0
    row = struct.Struct("<Idddd")
    for task in TASKS:
        table = proteins if task == "proteins" else {int(k): v for k, v in raw[task].items()}
        b = task.encode()
        out += struct.pack("<B", len(b)) + b
        out += struct.pack("<I", len(table))
        for k in sorted(table):
            vals = record(task, k, table[k])
            nonfinite += sum(1 for x in vals if not math.isfinite(x))
            out += row.pack(key_index[k], *vals)
    out += END
    out += hashlib.sha256(out).digest()
    if nonfinite:
        fail(f"{nonfinite} non-finite values in the tables (NaN or infinite accuracy, latency or "
             "parameters); the package's data is not what this converter was checked against")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "nasbench-graph.bin")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, path)
    with open(os.path.join(args.out, "NOTICE.md"), "w") as f:
        f.write(NOTICE)

    print(
        f"genomes: {len(canon)} ({len(canon) - len(invalid)} valid, {len(invalid)} invalid: "
        "the all-skip ones, which have no table entry)"
    )
    print(f"non-finite values: {nonfinite}")
    print(f"wrote {path} ({len(out)} bytes) in {time.time() - t0:.2f} s")


NOTICE = f"""# NAS-Bench-Graph data (converted)

`nasbench-graph.bin` is a converted subset of **NAS-Bench-Graph**:

> Yijian Qin, Ziwei Zhang, Xin Wang, Zeyang Zhang, Wenwu Zhu.
> *NAS-Bench-Graph: Benchmarking Graph Neural Architecture Search.*
> NeurIPS 2022 Datasets and Benchmarks Track. <https://github.com/THUMNLab/NAS-Bench-Graph>

Source: the PyPI package `nas-bench-graph` version {PACKAGE_VERSION}, licensed under the Apache
License, Version 2.0 (<https://www.apache.org/licenses/LICENSE-2.0>). It was converted by
`plugins/spaces/nasbench-graph/convert.py` of xnas from the package's `light/<dataset>.bench` tables.

Changes: only the validation metric (`valid_perf`), test metric (`perf`), latency (`latency`) and
parameter count (`para`) of each architecture on the nine datasets (cora, citeseer, pubmed, cs,
physics, photo, computers, arxiv, proteins) were kept, re-encoded as a little-endian binary table,
together with the canonical architecture key of every genome computed with the package's own
canonicalisation (`Arch.valid_hash`). No values were altered.
"""

if __name__ == "__main__":
    main()
