"""Reaper false positives: attempts lost although nothing was broken.

An attempt ends WORKER_LOST when the reaper declares its worker dead, when
the worker comes back as a new incarnation, or when the worker stops it
itself because its lease ran out. Each is legitimate only near a fault: a
worker killed or paused, or a leader gone long enough for leases to run
out. A WORKER_LOST attempt with no fault window anywhere near it (from a
reaper threshold before it started to just after it ended) is a false
positive: a healthy worker lost its work, and the task spent one of its
MAX_WORKER_LOST lives for nothing.
"""

from __future__ import annotations

from jepsen_like.checkers.base import CheckResult, RunData, overlaps

MARGIN_S = 1.0


def check_worker_lost(data: RunData) -> CheckResult:
    result = CheckResult("worker-lost", True)
    dead_after_s = float(data.meta["config"]["dead_after_s"])
    windows = [(start, end) for start, end, _, _ in data.fault_windows()]
    lost = unexplained = 0
    for task in data.final.tasks.values():
        for attempt in task["attempts"]:
            if attempt["outcome"] != "WORKER_LOST":
                continue
            lost += 1
            started = data.wall_to_run(attempt["started_at"]) or 0.0
            finished = data.wall_to_run(attempt["finished_at"]) or data.end_t
            near = (started - dead_after_s - MARGIN_S, finished + MARGIN_S)
            if overlaps(near, windows):
                continue
            unexplained += 1
            result.example(
                {
                    "task_id": task["id"],
                    "attempt": attempt["number"],
                    "worker_id": attempt["worker_id"],
                    "started_t": round(started, 3),
                    "finished_t": round(finished, 3),
                }
            )
    result.counts = {"worker_lost": lost, "unexplained": unexplained}
    result.valid = unexplained == 0
    return result
