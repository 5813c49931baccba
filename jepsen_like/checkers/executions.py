"""Execution checkers, from the witness log: what really ran, and how often.

* duplicates: every execution of a task after its first is classified as
  a retry after a failure of the command (expected), a sequential
  duplicate after a lost attempt (allowed: delivery is at least once),
  a concurrent duplicate (it overlapped another execution of the same
  task: invalid), or a run after a reported success (invalid). In tree
  scope a paused worker's attempts were stopped too, so pause windows are
  cut out of their intervals before overlaps are measured; an execution
  that overlaps a later one only across such a pause (it was frozen, its
  task moved on, and it resumed and ended) is counted apart as
  ``resumed_after_reassignment``: visible, as the design promises, but
  not concurrent beyond the witness clock's resolution.
* retry budget: at most max_retries + 1 command failures and
  MAX_WORKER_LOST lost attempts per task, no task given up early, and no
  execution that Titan has no attempt for.
"""

from __future__ import annotations

from typing import Any

from jepsen_like.checkers.base import COMMAND_FAILURES, CheckResult, RunData
from jepsen_like.witness import Execution
from titan_ha.models import MAX_WORKER_LOST

# The witness clock ticks every 10 ms: shorter overlaps are not evidence.
OVERLAP_TOLERANCE_S = 0.02

Interval = tuple[float, float]


def _intervals(
    data: RunData, execution: Execution, cut_pauses: bool = True
) -> list[Interval]:
    """When ``execution`` was running, on the run clock."""
    end = execution.end_t
    if end is None:
        attempt = _attempt(data, execution.task_id, execution.attempt)
        finished = attempt.get("finished_at") if attempt else None
        end = data.wall_to_run(finished) if finished else None
    if end is None:
        end = data.end_t
    spans = [(execution.start_t, max(end, execution.start_t))]
    if not (cut_pauses and data.worker_tree):
        return spans
    for cut_start, cut_end in data.paused(execution.worker):
        spans = [piece for span in spans for piece in _cut(span, cut_start, cut_end)]
    return spans


def _cut(span: Interval, start: float, end: float) -> list[Interval]:
    if end <= span[0] or start >= span[1]:
        return [span]
    return [p for p in ((span[0], start), (end, span[1])) if p[1] > p[0]]


def _overlap_s(a: list[Interval], b: list[Interval]) -> float:
    return sum(max(0.0, min(x[1], y[1]) - max(x[0], y[0])) for x in a for y in b)


def _attempt(data: RunData, task_id: str, number: int) -> dict[str, Any] | None:
    task = data.final.tasks.get(task_id)
    if task is None or not 1 <= number <= len(task["attempts"]):
        return None
    attempt: dict[str, Any] = task["attempts"][number - 1]
    return attempt


def check_duplicates(data: RunData) -> CheckResult:
    result = CheckResult("duplicates", True)
    counts = dict.fromkeys(
        (
            "executions",
            "tasks_run_more_than_once",
            "retries_after_failure",
            "sequential",
            "concurrent",
            "resumed_after_reassignment",
            "after_success",
            "without_end_record",
        ),
        0,
    )
    max_overlap_s = 0.0
    for task_id, runs in sorted(data.witness.by_task().items()):
        counts["executions"] += len(runs)
        counts["without_end_record"] += sum(1 for r in runs if r.end_t is None)
        if len(runs) > 1:
            counts["tasks_run_more_than_once"] += 1
        spans = [_intervals(data, run) for run in runs]
        whole = [_intervals(data, run, cut_pauses=False) for run in runs]
        for i in range(1, len(runs)):
            overlap = max(_overlap_s(spans[i], spans[j]) for j in range(i))
            wall = max(_overlap_s(whole[i], whole[j]) for j in range(i))
            outcomes = [_outcome(data, task_id, e.attempt) for e in runs[:i]]
            if overlap > OVERLAP_TOLERANCE_S:
                kind = "concurrent"
                max_overlap_s = max(max_overlap_s, overlap)
            elif wall > OVERLAP_TOLERANCE_S:
                kind = "resumed_after_reassignment"
            elif "SUCCEEDED" in outcomes:
                kind = "after_success"
            elif outcomes[-1] in COMMAND_FAILURES:
                kind = "retries_after_failure"
            else:
                kind = "sequential"
            counts[kind] += 1
            if kind in ("concurrent", "after_success", "resumed_after_reassignment"):
                result.example(
                    {
                        "task_id": task_id,
                        "kind": kind,
                        "overlap_s": round(overlap, 3),
                        "executions": [e.to_json() for e in runs[: i + 1]],
                    }
                )
    result.counts = {**counts, "max_overlap_s": round(max_overlap_s, 3)}
    result.valid = counts["concurrent"] == 0 and counts["after_success"] == 0
    return result


def _outcome(data: RunData, task_id: str, number: int) -> str | None:
    attempt = _attempt(data, task_id, number)
    return None if attempt is None else str(attempt.get("outcome"))


def check_retry_budget(data: RunData) -> CheckResult:
    result = CheckResult("retry-budget", True)
    over_budget = gave_up_early = unreported = 0
    runs_by_task = data.witness.by_task()
    for task in data.final.tasks.values():
        outcomes = [a["outcome"] for a in task["attempts"]]
        failures = sum(1 for o in outcomes if o in COMMAND_FAILURES)
        lost = outcomes.count("WORKER_LOST")
        budget = task["max_retries"] + 1
        if failures > budget or lost > MAX_WORKER_LOST:
            over_budget += 1
            result.example(
                {"task_id": task["id"], "why": "over budget", "outcomes": outcomes}
            )
        if task["state"] == "FAILED" and failures < budget and lost < MAX_WORKER_LOST:
            gave_up_early += 1
            result.example(
                {"task_id": task["id"], "why": "gave up early", "outcomes": outcomes}
            )
        beyond = [
            r for r in runs_by_task.get(task["id"], []) if r.attempt > len(outcomes)
        ]
        if beyond:
            unreported += len(beyond)
            result.example(
                {
                    "task_id": task["id"],
                    "why": "ran an attempt Titan never recorded",
                    "attempts": sorted({r.attempt for r in beyond}),
                }
            )
    result.counts = {
        "tasks": len(data.final.tasks),
        "over_budget": over_budget,
        "gave_up_early": gave_up_early,
        "unrecorded_executions": unreported,
    }
    result.valid = over_budget == 0 and gave_up_early == 0 and unreported == 0
    return result
