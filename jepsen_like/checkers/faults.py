"""The faults themselves: were they applied, and did the cluster recover?

A run whose nemesis failed to inject its faults proves nothing, so a
nemesis error makes it invalid rather than quietly valid. So does a fault
after which the cluster did not become healthy again (a leader leading and
every worker live) within the nemesis's recovery timeout, and a manager or
worker that died although no fault killed it (a crash).
"""

from __future__ import annotations

from collections import Counter

from jepsen_like.checkers.base import CheckResult, RunData


def check_nemesis(data: RunData) -> CheckResult:
    result = CheckResult("nemesis", True)
    phases = Counter(event["phase"] for event in data.nemesis)
    started = Counter(e["kind"] for e in data.nemesis if e["phase"] == "start")
    recoveries = [e["recovery_s"] for e in data.nemesis if e["phase"] == "recovered"]
    unrecovered = sum(1 for r in recoveries if r is None)
    for event in data.nemesis:
        if event["phase"] in ("error", "skipped", "crash") or (
            event["phase"] == "recovered" and event["recovery_s"] is None
        ):
            result.example(event)
    measured = [r for r in recoveries if r is not None]
    result.counts = {
        "planned": len(data.meta.get("schedule", [])),
        "started": sum(started.values()),
        "by_kind": dict(sorted(started.items())),
        "skipped": phases["skipped"],
        "errors": phases["error"],
        "crashes": sum(
            len(e["crashed"]) for e in data.nemesis if e["phase"] == "crash"
        ),
        "unrecovered": unrecovered,
        "max_recovery_s": max(measured) if measured else None,
    }
    never = [k for k in data.meta["config"].get("nemeses", []) if not started[k]]
    result.counts["never_started"] = never
    if never:
        result.notes.append(
            f"never started: {', '.join(never)} (a longer run schedules every kind)"
        )
    result.valid = phases["error"] == 0 and unrecovered == 0 and not phases["crash"]
    return result
