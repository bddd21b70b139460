"""What the benchmarks against PyTorch share when they summarise (nasnet_speed.sh,
supernet_speed.sh, through bench/torch_peer.sh's `summarise`): their JSON lines, which side each
came from, the measurements both sides made, medians, idle baselines."""
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


def pairs(rows, measurement, order):
    """The measurements both sides made, sorted by `order` of (measurement, threads): a list of
    (measurement, threads, xnas rows, PyTorch rows). `measurement(row)` names a row's measurement,
    None for a row that is not one (an idle baseline)."""
    runs = {}
    for r in rows:
        m = measurement(r)
        if m is not None:
            runs.setdefault((m, r["threads"], side(r)), []).append(r)
    both = sorted({(m, t) for (m, t, s) in runs if s == "xnas" and (m, t, "torch") in runs}, key=order)
    return [(m, t, runs[(m, t, "xnas")], runs[(m, t, "torch")]) for m, t in both]


def footer(measured, argv):
    """The tables' last line: processes per cell (of the last measurement), the script's time and
    the load average at its end (argv as torch_peer.sh's `summarise` passes them)."""
    return (f"(medians of {len(measured[-1][2])} processes each, min–max in brackets; script time {argv[2]} s; "
            f"load average at the end: {argv[3]})")
