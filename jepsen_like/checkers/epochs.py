"""Stale-epoch effects: changes made by a leader whose epoch was over.

Every decision command carries its proposer's epoch, and fencing rejects it
unless that epoch is the one in force when it applies. A deposed leader's
commands still reach the log (pysyncobj forwards them to the new leader),
so fencing is what keeps them from changing anything.

The state records, for every attempt, the epoch carried by the command that
opened it and by the one that ended it, each next to the epoch in force when
it applied; likewise for the last register and reap of every worker. Each
replica also counts, by op, the fenced commands it applied with an epoch not
in force (``stale_applied``), which covers ops that leave no such record
(drain, output, gc). Any of these is a stale-epoch effect: the run is
invalid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jepsen_like.checkers.base import CheckResult, RunData

ATTEMPT_EFFECTS = ("opened", "ended")
WORKER_EFFECTS = ("registered", "reaped")


def recorded_effects(
    record: dict[str, Any], effects: tuple[str, ...]
) -> Iterator[tuple[str, int, int]]:
    """(effect, the command's epoch, the epoch in force) of each recorded effect.

    An epoch in force of 0 (or a missing field, from an older build) means
    the effect was not recorded: an attempt still open, a worker never reaped.
    """
    for effect in effects:
        in_force = record.get(f"{effect}_in_epoch") or 0
        if in_force:
            yield effect, int(record.get(f"{effect}_by_epoch") or 0), int(in_force)


def _check_attempts(
    data: RunData, result: CheckResult, stale: dict[str, int]
) -> tuple[int, int, int]:
    """Counts stale attempt effects into ``stale``; (attempts, unrecorded, stale)."""
    attempts = unrecorded = stale_attempts = 0
    for task in data.final.tasks.values():
        for attempt in task["attempts"]:
            effects = list(recorded_effects(attempt, ATTEMPT_EFFECTS))
            if not effects:
                unrecorded += 1
                continue
            attempts += 1
            found = [e for e in effects if e[1] != e[2]]
            stale_attempts += bool(found)
            for effect, by_epoch, in_epoch in found:
                stale[effect] += 1
                result.example(
                    {
                        "task_id": task["id"],
                        "attempt": attempt["number"],
                        "worker_id": attempt["worker_id"],
                        "effect": effect,
                        "outcome": attempt["outcome"],
                        "op_epoch": by_epoch,
                        "epoch_in_force": in_epoch,
                    }
                )
    return attempts, unrecorded, stale_attempts


def _check_workers(data: RunData, result: CheckResult, stale: dict[str, int]) -> None:
    for worker in data.final.workers or []:
        for effect, by_epoch, in_epoch in recorded_effects(worker, WORKER_EFFECTS):
            if by_epoch != in_epoch:
                stale[effect] += 1
                result.example(
                    {
                        "worker_id": worker["id"],
                        "effect": effect,
                        "op_epoch": by_epoch,
                        "epoch_in_force": in_epoch,
                    }
                )


def _stale_applied(data: RunData, result: CheckResult) -> dict[str, int]:
    """Each op's stale-applied count, the highest any replica reports."""
    counts: dict[str, int] = {}
    for replica in data.final.replicas:
        reported = replica.get("stale_applied") or {}
        for op, n in reported.items():
            counts[op] = max(counts.get(op, 0), int(n))
        if reported:
            result.example({"replica": replica.get("id"), "stale_applied": reported})
    return dict(sorted(counts.items()))


def check_stale_epoch(data: RunData) -> CheckResult:
    result = CheckResult("stale-epoch", True)
    stale = dict.fromkeys(ATTEMPT_EFFECTS + WORKER_EFFECTS, 0)
    attempts, unrecorded, stale_attempts = _check_attempts(data, result, stale)
    _check_workers(data, result, stale)
    applied = _stale_applied(data, result)
    workers = data.final.workers
    result.counts = {
        "attempts": attempts,
        "unrecorded_attempts": unrecorded,
        "workers": None if workers is None else len(workers),
        "stale_attempts": stale_attempts,
        **{f"stale_{effect}": n for effect, n in stale.items()},
        "stale_effects": sum(stale.values()),
        "stale_applied": applied,
    }
    if sum(stale.values()) or sum(applied.values()):
        result.valid = False
    elif not attempts and not any("stale_applied" in r for r in data.final.replicas):
        result.valid = None
        result.notes.append("no attempt or replica recorded epochs")
    if workers is None:
        result.notes.append("the worker registry was not read")
    return result
