"""What the benchmarks against PyTorch share when they summarise (nasnet_speed.sh,
supernet_speed.sh): their JSON lines, which side each came from, medians, idle baselines."""
import json
import statistics

med = statistics.median


def side(r):
    return "xnas" if r["peer"] == "xnas" else "torch"


def read(path):
    return [json.loads(line) for line in open(path) if line.startswith("{")]


def idle_rss(rows):
    """Median peak RSS of each side's idle processes."""
    return {s: med(r["peak_rss_mib"] for r in rows if r["what"] == "idle" and side(r) == s)
            for s in ("xnas", "torch")}


def span(rs, key="images_per_s"):
    return f"{min(r[key] for r in rs):.1f}–{max(r[key] for r in rs):.1f}"


def per_cpu(rs):
    """Median images per CPU-second of the timed epoch."""
    return med(r["steps"] * r["batch"] / r["cpu_s"] for r in rs)
