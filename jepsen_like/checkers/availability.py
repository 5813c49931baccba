"""Availability: how long submits stall when the leader goes away, and latency.

Failover time is measured from the start of a leader fault (kill, pause,
partition) to the first acknowledged submit invoked after it; the same for
restart-all is reported apart, as it includes process start-up. Submit
latency percentiles are given for submits that overlapped a fault window
and for those that did not. Valid when the failover median is within the
configured bound.
"""

from __future__ import annotations

import math
from typing import Any

from jepsen_like.checkers.base import CheckResult, RunData, overlaps
from jepsen_like.history import OK
from jepsen_like.nemesis import LEADER_FAULTS


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least
    ``fraction`` of them at or below it), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return round(ordered[rank], 4)


def failover_times(data: RunData, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """For each started fault of ``kinds``: seconds to the next acked submit."""
    acked = sorted(data.submits(OK), key=lambda op: op.invoke_t)
    samples = []
    for event in data.nemesis:
        if event["phase"] != "start" or event["kind"] not in kinds:
            continue
        started = float(event["time"])
        after = [op.complete_t for op in acked if op.invoke_t >= started]
        samples.append(
            {
                "kind": event["kind"],
                "variant": event.get("variant"),
                "at": round(started, 3),
                "failover_s": round(min(after) - started, 3) if after else None,
            }
        )
    return samples


def check_availability(data: RunData) -> CheckResult:
    result = CheckResult("availability", True)
    leader = failover_times(data, LEADER_FAULTS)
    restarts = failover_times(data, ("restart-all",))
    leader_s = [s["failover_s"] for s in leader if s["failover_s"] is not None]
    restart_s = [s["failover_s"] for s in restarts if s["failover_s"] is not None]
    windows = [(start, end) for start, end, _, _ in data.fault_windows()]
    faulty: list[float] = []
    calm: list[float] = []
    for op in data.submits(OK):
        span = (op.invoke_t, op.complete_t)
        (faulty if overlaps(span, windows) else calm).append(op.latency_s)
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({s["kind"] for s in leader + restarts}):
        times = [
            s["failover_s"]
            for s in leader + restarts
            if s["kind"] == kind and s["failover_s"] is not None
        ]
        by_kind[kind] = {
            "n": len(times),
            "p50_s": percentile(times, 0.5),
            "max_s": max(times) if times else None,
        }
    limit = float(data.meta["config"]["max_failover_p50_s"])
    p50 = percentile(leader_s, 0.5)
    result.counts = {
        "leader_faults": len(leader),
        "failover_p50_s": p50,
        "failover_max_s": max(leader_s) if leader_s else None,
        "failover_unmeasured": len(leader) - len(leader_s),
        "restart_all_p50_s": percentile(restart_s, 0.5),
        "restart_all_max_s": max(restart_s) if restart_s else None,
        "submit_p50_s_calm": percentile(calm, 0.5),
        "submit_p99_s_calm": percentile(calm, 0.99),
        "submit_p50_s_faults": percentile(faulty, 0.5),
        "submit_p99_s_faults": percentile(faulty, 0.99),
        "acked_submits_calm": len(calm),
        "acked_submits_faults": len(faulty),
        "failover_limit_s": limit,
        "by_kind": by_kind,
    }
    result.examples = sorted(
        leader + restarts, key=lambda s: -(s["failover_s"] or float("inf"))
    )[:5]
    result.valid = p50 is None or p50 <= limit
    if p50 is not None and p50 > limit:
        result.notes.append(f"failover median {p50}s exceeds {limit}s")
    return result
