"""Monotonic reads: a task never goes back in time.

A task's progress is (attempts started, attempts ended, final or not); each
part only grows, and a final state never changes. Reads of a task are
linearizable, so a read that began after another read ended must show at
least the progress that one showed, whichever clients made them. A read
that began after the task's submit was acknowledged must find the task.
"""

from __future__ import annotations

from jepsen_like.checkers.base import FINAL_STATES, CheckResult, RunData
from jepsen_like.history import OK, Op

Progress = tuple[int, int, int]


def _progress(op: Op) -> Progress:
    final = 1 if op.result["state"] in FINAL_STATES else 0
    return (int(op.result["attempts"]), int(op.result["ended"]), final)


def check_monotonic_reads(data: RunData) -> CheckResult:
    result = CheckResult("monotonic-reads", True)
    reads: dict[str, list[Op]] = {}
    for op in data.ops:
        if op.f == "read" and op.type == OK:
            reads.setdefault(op.result["task_id"], []).append(op)
    acked = data.acked()
    counts = {"went_backwards": 0, "acked_but_not_found": 0, "final_state_changed": 0}
    for task_id, ops in reads.items():
        ack = acked.get(task_id)
        _check_task(
            task_id, ops, None if ack is None else ack.complete_t, counts, result
        )
    result.counts = {
        "reads": sum(len(ops) for ops in reads.values()),
        "tasks_read": len(reads),
        **counts,
    }
    result.valid = not any(counts.values())
    return result


def _check_task(
    task_id: str,
    ops: list[Op],
    acked_t: float | None,
    counts: dict[str, int],
    result: CheckResult,
) -> None:
    """Sweeps one task's reads in invocation order against those that ended."""
    by_end = sorted(ops, key=lambda op: op.complete_t)
    best: Progress = (0, 0, 0)
    seen_final: str | None = None
    done = 0
    for op in sorted(ops, key=lambda op: op.invoke_t):
        while done < len(by_end) and by_end[done].complete_t < op.invoke_t:
            earlier = by_end[done]
            done += 1
            if not earlier.result["found"]:
                continue
            best = _max_progress(best, _progress(earlier))
            if earlier.result["state"] in FINAL_STATES:
                seen_final = earlier.result["state"]
        if not op.result["found"]:
            if acked_t is not None and acked_t < op.invoke_t:
                counts["acked_but_not_found"] += 1
                result.example(
                    {"task_id": task_id, "at": op.invoke_t, "why": "not found"}
                )
            continue
        progress = _progress(op)
        if any(now < before for now, before in zip(progress, best, strict=True)):
            counts["went_backwards"] += 1
            result.example(
                {"task_id": task_id, "at": op.invoke_t, "saw": progress, "after": best}
            )
        if seen_final and op.result["state"] != seen_final:
            counts["final_state_changed"] += 1
            result.example(
                {"task_id": task_id, "was": seen_final, "now": op.result["state"]}
            )


def _max_progress(a: Progress, b: Progress) -> Progress:
    return (max(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]))
