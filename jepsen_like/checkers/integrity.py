"""Result integrity: what Titan reports matches what really ran.

For every attempt Titan reports as SUCCEEDED or FAILED there must be a
witnessed execution of that attempt on that worker whose exit status is the
reported one; a TIMED_OUT attempt must have been witnessed starting. The
final output must be the last attempt's (``out NONCE ATTEMPT``), with the
byte count the command really wrote. Witnessed exits that differ from what
the plan says the command does point at the harness itself and are counted
separately.
"""

from __future__ import annotations

from typing import Any

from jepsen_like.checkers.base import CheckResult, RunData
from jepsen_like.witness import SIGPIPE_EXIT, SIGTERM_EXIT, Execution
from jepsen_like.workload import TaskPlan

REPORTED_EXITS = ("SUCCEEDED", "FAILED")


INVALIDATING = (
    "reported_without_execution",
    "worker_mismatch",
    "exit_mismatch",
    "output_mismatch",
)


def check_result_integrity(data: RunData) -> CheckResult:
    result = CheckResult("result-integrity", True)
    counts = dict.fromkeys(
        (*INVALIDATING, "attempts_checked", "unexpected_exit", "tasks_without_plan"),
        0,
    )
    runs: dict[tuple[str, int], list[Execution]] = {}
    for execution in data.witness.executions.values():
        runs.setdefault((execution.task_id, execution.attempt), []).append(execution)
    for task in data.final.tasks.values():
        plan = data.plan_of(task)
        if plan is None:
            counts["tasks_without_plan"] += 1
            continue
        _check_task(task, plan, runs, counts, result)
    result.counts = counts
    result.valid = not any(counts[k] for k in INVALIDATING)
    if counts["unexpected_exit"]:
        result.notes.append("unexpected exits: the harness's own commands misbehaved")
    return result


def _check_task(
    task: dict[str, Any],
    plan: TaskPlan,
    runs: dict[tuple[str, int], list[Execution]],
    counts: dict[str, int],
    result: CheckResult,
) -> None:
    for attempt in task["attempts"]:
        problem = _attempt_problem(attempt, runs.get((task["id"], attempt["number"])))
        if attempt["outcome"] in (*REPORTED_EXITS, "TIMED_OUT"):
            counts["attempts_checked"] += 1
        if problem:
            counts[problem] += 1
            result.example({"task_id": task["id"], "attempt": attempt, "why": problem})
    for execution in _all_runs(runs, task["id"]):
        expected = plan.expected_exit(execution.attempt)
        if execution.exit not in (None, SIGTERM_EXIT, SIGPIPE_EXIT, expected):
            counts["unexpected_exit"] += 1
            result.example(
                {
                    "task_id": task["id"],
                    "execution": execution.to_json(),
                    "expected_exit": expected,
                    "why": "unexpected_exit",
                }
            )
    output_problem = _output_problem(task, plan)
    if output_problem:
        counts["output_mismatch"] += 1
        result.example({"task_id": task["id"], "why": output_problem})


def _all_runs(
    runs: dict[tuple[str, int], list[Execution]], task_id: str
) -> list[Execution]:
    return [e for (tid, _), es in runs.items() if tid == task_id for e in es]


def _attempt_problem(
    attempt: dict[str, Any], executions: list[Execution] | None
) -> str | None:
    outcome = attempt["outcome"]
    if outcome not in (*REPORTED_EXITS, "TIMED_OUT"):
        return None
    if not executions:
        return "reported_without_execution"
    on_worker = [e for e in executions if e.worker == attempt["worker_id"]]
    if not on_worker:
        return "worker_mismatch"
    if outcome == "TIMED_OUT":
        return None
    if not any(e.exit == attempt["exit_code"] for e in on_worker):
        return "exit_mismatch"
    return None


def _output_problem(task: dict[str, Any], plan: TaskPlan) -> str | None:
    """Why the task's final output is not its last reported attempt's, if so."""
    reported = [a for a in task["attempts"] if a["outcome"] in REPORTED_EXITS]
    if task["state"] == "SUCCEEDED" and task["attempts"][-1]["outcome"] != "SUCCEEDED":
        return "task SUCCEEDED but its last attempt did not"
    if not reported or reported[-1] is not task["attempts"][-1]:
        return None  # the last attempt was lost or timed out: no output to judge
    number = reported[-1]["number"]
    line = plan.stdout_line(number)
    if task["stdout_bytes"] != plan.expected_stdout_bytes(number):
        return (
            f"stdout_bytes {task['stdout_bytes']} != "
            f"{plan.expected_stdout_bytes(number)} for attempt {number}"
        )
    if plan.kind == "big":
        if not task["stdout"].endswith(line):
            return f"stdout does not end with {line!r}"
    elif task["stdout"] != line:
        return f"stdout {task['stdout'][:80]!r} != {line!r}"
    if task["exit_code"] != reported[-1]["exit_code"]:
        return "task exit code differs from its last attempt's"
    return None
