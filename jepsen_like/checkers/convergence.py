"""Convergence: after healing, one leader and the same state on every replica.

Every replica must answer, agree on one leader and term, have applied the
same log index, and list the same tasks with the same state, outcome, exit
code, worker, finish time and output size as the leader's final reads.
Replicas are read locally (``tasks(local=True)`` on each endpoint alone),
at one applied index.
"""

from __future__ import annotations

from typing import Any

from jepsen_like.checkers.base import CheckResult, RunData


def _leader_digests(data: RunData) -> dict[str, list[Any]]:
    return {
        task["id"]: [
            task["state"],
            task["outcome"],
            task["exit_code"],
            task.get("worker_id"),
            round(task["finished_at"], 3),
            task["stdout_bytes"],
        ]
        for task in data.final.tasks.values()
    }


def check_convergence(data: RunData) -> CheckResult:
    result = CheckResult("convergence", True)
    replicas = data.final.replicas
    answered = [
        r for r in replicas if "error" not in r and isinstance(r["tasks"], dict)
    ]
    for replica in replicas:
        if replica not in answered:
            why = replica.get("error") or replica.get("tasks")
            result.example({"replica": replica["endpoint"], "why": why})
    leaders = sorted(str(r["id"]) for r in answered if r.get("role") == "leader")
    named = sorted({str(r.get("leader_id")) for r in answered})
    terms = {int(r.get("term", -1)) for r in answered}
    applied = {int(r.get("applied_index", -1)) for r in answered}
    if len(leaders) != 1 or leaders != named:
        result.example(
            {"why": "not exactly one agreed leader", "leaders": leaders, "named": named}
        )
    if len(applied) > 1:
        result.example(
            {
                "why": "applied indexes differ",
                "applied": {r["id"]: r.get("applied_index") for r in answered},
            }
        )
    expected = _leader_digests(data)
    differing_tasks = 0
    for replica in answered:
        theirs: dict[str, list[Any]] = replica["tasks"]
        diff = sorted(
            t for t in set(expected) | set(theirs) if expected.get(t) != theirs.get(t)
        )
        differing_tasks += len(diff)
        for task_id in diff[:2]:
            result.example(
                {
                    "why": "replica differs from the leader",
                    "replica": replica["id"],
                    "task_id": task_id,
                    "leader": expected.get(task_id),
                    "replica_view": theirs.get(task_id),
                }
            )
    rejections: dict[str, int] = {}
    for replica in answered:
        for reason, n in (replica.get("rejections") or {}).items():
            rejections[reason] = max(rejections.get(reason, 0), int(n))
    recovery = data.meta.get("recovery_s")
    result.counts = {
        "replicas": len(replicas),
        "answered": len(answered),
        "leaders": len(leaders),
        "terms": len(terms),
        "applied_indexes": len(applied),
        "task_differences": differing_tasks,
        "recovery_s": None if recovery is None else round(float(recovery), 3),
        "rejected_commands": rejections,
    }
    result.valid = (
        len(answered) == len(replicas) > 0
        and len(leaders) == 1
        and leaders == named
        and len(terms) == 1
        and len(applied) == 1
        and differing_tasks == 0
        and recovery is not None
    )
    if recovery is None:
        result.notes.append("the cluster did not become healthy after the final heal")
    return result
