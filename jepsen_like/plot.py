"""The timeline plot: latency and throughput over time, fault windows shaded."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from jepsen_like.checkers.base import RunData
from jepsen_like.history import FAIL, INFO, OK

FAULT_COLOURS = {
    "kill-leader": "#d62728",
    "pause-leader": "#ff7f0e",
    "partition-leader": "#9467bd",
    "kill-worker": "#8c564b",
    "pause-worker": "#e377c2",
    "restart-all": "#1f77b4",
}
MARKERS = {OK: ("#2ca02c", "."), INFO: ("#ff7f0e", "x"), FAIL: ("#d62728", "v")}


def plot_timeline(data: RunData, path: Path) -> None:
    """Writes a two-panel PNG: op latency (top) and throughput (bottom)."""
    # The object API only: no pyplot, no global figure state, no GUI backend.
    fig = Figure(figsize=(13, 6.5))
    latency, throughput = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    kinds_seen = set()
    for start, end, kind, _ in data.fault_windows():
        colour = FAULT_COLOURS.get(kind, "#7f7f7f")
        for axis in (latency, throughput):
            axis.axvspan(start, max(end, start + 0.1), color=colour, alpha=0.18, lw=0)
        kinds_seen.add(kind)
    for f, size in (("submit", 14), ("read", 5)):
        for kind, (colour, marker) in MARKERS.items():
            ops = [op for op in data.ops if op.f == f and op.type == kind]
            if not ops:
                continue
            latency.scatter(
                [op.invoke_t for op in ops],
                [max(_finite(op.latency_s, 10.0), 1e-4) * 1000 for op in ops],
                s=size,
                c=colour if f == "submit" else "#7f7f7f",
                marker=marker,
                label=f"{f} {kind}",
                alpha=0.8,
            )
    latency.set_yscale("log")
    latency.set_ylabel("latency (ms)")
    latency.grid(True, which="major", alpha=0.3)
    handles, _ = latency.get_legend_handles_labels()
    handles += [
        Patch(color=FAULT_COLOURS.get(k, "#7f7f7f"), alpha=0.3, label=k)
        for k in sorted(kinds_seen)
    ]
    latency.legend(handles=handles, loc="upper left", fontsize=7, ncol=4)
    _throughput(data, throughput)
    throughput.set_xlabel("time since the run started (s)")
    seed = data.meta["config"]["seed"]
    fig.suptitle(f"jepsen_like run, seed {seed}: operations and faults")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _throughput(data: RunData, axis: Axes) -> None:
    end = max(
        [data.end_t, 1.0] + [op.complete_t for op in data.ops if op.complete_t < 1e9]
    )
    seconds = list(range(math.ceil(end) + 1))
    for label, f, kind, colour in (
        ("acked submits/s", "submit", OK, "#2ca02c"),
        ("info submits/s", "submit", INFO, "#ff7f0e"),
        ("reads/s", "read", OK, "#7f7f7f"),
    ):
        buckets = Counter(
            int(op.complete_t)
            for op in data.ops
            if op.f == f and op.type == kind and op.complete_t < 1e9
        )
        axis.step(
            seconds,
            [buckets.get(s, 0) for s in seconds],
            where="post",
            label=label,
            color=colour,
            lw=1.2,
        )
    axis.set_ylabel("ops per second")
    axis.legend(loc="upper left", fontsize=7)
    axis.grid(True, alpha=0.3)


def _finite(value: float, cap: float) -> float:
    return value if math.isfinite(value) else cap
