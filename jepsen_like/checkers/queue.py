"""Queue checkers: what goes in must come out, once per idempotency key.

* lost: an acknowledged submit whose task is missing at the end or never
  became final. A submit that ended ``info`` is indeterminate: its task
  may or may not exist, and either is fine.
* phantom: a task (or an execution) that no client ever asked for.
* idempotency: one task per key, and every acknowledged submit of a key
  names the same task.
"""

from __future__ import annotations

from jepsen_like.checkers.base import FINAL_STATES, CheckResult, RunData
from jepsen_like.history import FAIL, INFO


def check_lost(data: RunData) -> CheckResult:
    result = CheckResult("lost", True)
    acked = data.acked()
    lost = unfinished = 0
    for task_id, op in sorted(acked.items(), key=lambda item: item[1].invoke_t):
        task = data.final.tasks.get(task_id)
        if task is None:
            lost += 1
            result.example(
                {"task_id": task_id, "acked_at": op.complete_t, "why": "missing"}
            )
        elif task["state"] not in FINAL_STATES:
            unfinished += 1
            result.example({"task_id": task_id, "why": f"still {task['state']}"})
    final_keys = {t.get("idempotency_key") for t in data.final.tasks.values()}
    info = data.submits(INFO)
    result.counts = {
        "acknowledged": len(acked),
        "lost": lost,
        "unfinished": unfinished,
        "info_submits": len(info),
        "info_applied": sum(1 for op in info if op.args["key"] in final_keys),
        "failed_submits": len(data.submits(FAIL)),
    }
    result.valid = lost == 0 and unfinished == 0
    if not data.final.drained:
        result.notes.append("the queue did not drain before the drain timeout")
    if data.final.read_errors:
        result.notes.append(f"{len(data.final.read_errors)} final reads failed")
        result.valid = None if result.valid else result.valid
    return result


def check_phantom(data: RunData) -> CheckResult:
    result = CheckResult("phantom", True)
    keys = {op.args["key"] for op in data.submits()}
    phantom_tasks = 0
    for task in data.final.tasks.values():
        if task.get("idempotency_key") not in keys:
            phantom_tasks += 1
            result.example({"task_id": task["id"], "key": task.get("idempotency_key")})
    unknown_runs = 0
    for task_id, runs in data.witness.by_task().items():
        nonce_known = all(run.nonce in data.plans for run in runs)
        if task_id not in data.final.tasks or not nonce_known:
            unknown_runs += len(runs)
            result.example(
                {"task_id": task_id, "why": "ran, but not in the final state"}
            )
    result.counts = {
        "final_tasks": len(data.final.tasks),
        "phantom_tasks": phantom_tasks,
        "executions_of_unknown_tasks": unknown_runs,
    }
    result.valid = phantom_tasks == 0 and unknown_runs == 0
    return result


def check_idempotency(data: RunData) -> CheckResult:
    result = CheckResult("idempotency", True)
    tasks_by_key: dict[str, list[str]] = {}
    for task in data.final.tasks.values():
        key = task.get("idempotency_key")
        if key:
            tasks_by_key.setdefault(key, []).append(task["id"])
    many_tasks = {k: ids for k, ids in tasks_by_key.items() if len(ids) > 1}
    for key, ids in sorted(many_tasks.items()):
        result.example(
            {"key": key, "task_ids": sorted(ids), "why": "one key, many tasks"}
        )
    acked_by_key: dict[str, set[str]] = {}
    for op in data.submits("ok"):
        acked_by_key.setdefault(op.args["key"], set()).add(op.result["task_id"])
    many_acked = {k: ids for k, ids in acked_by_key.items() if len(ids) > 1}
    for key, id_set in sorted(many_acked.items()):
        result.example({"key": key, "task_ids": sorted(id_set), "why": "acks differ"})
    reused = [op for op in data.submits() if op.args.get("reuse")]
    result.counts = {
        "keys": len(tasks_by_key),
        "reused_key_submits": len(reused),
        "reused_acked_existing": sum(
            1 for op in reused if op.type == "ok" and op.result.get("existed")
        ),
        "keys_with_many_tasks": len(many_tasks),
        "extra_tasks": sum(len(ids) - 1 for ids in many_tasks.values()),
        "keys_acked_with_different_ids": len(many_acked),
    }
    result.valid = not many_tasks and not many_acked
    return result
