"""Process checkers: timeouts are enforced and nothing outlives its attempt.

* timeout-bound: a ``timeout`` task's execution is told to stop (its
  SIGTERM trap writes the end record) within its timeout plus a small
  slack, measured on the witness clock from its own start record.
* leaks: no ``late`` witness record (a TERM-ignoring child of a timed-out
  attempt that survived the kill) and no process of the run left at the
  end besides managers and workers.

Both excuse executions whose worker was paused meanwhile: a stopped agent
cannot enforce anything, and that is the fault, not a bug.
"""

from __future__ import annotations

from jepsen_like.checkers.base import CheckResult, RunData, overlaps

TIMEOUT_SLACK_S = 0.5


def check_timeout_bound(data: RunData) -> CheckResult:
    result = CheckResult("timeout-bound", True)
    checked = excused = over = 0
    worst_s = 0.0
    for execution in data.witness.executions.values():
        plan = data.plans.get(execution.nonce)
        if plan is None or plan.kind != "timeout" or execution.end_t is None:
            continue
        ran_s = execution.end_t - execution.start_t
        span = (execution.start_t, execution.end_t)
        if overlaps(span, data.paused(execution.worker)):
            excused += 1
            continue
        checked += 1
        worst_s = max(worst_s, ran_s - plan.timeout_s)
        if ran_s > plan.timeout_s + TIMEOUT_SLACK_S:
            over += 1
            result.example(
                {
                    "execution": execution.to_json(),
                    "timeout_s": plan.timeout_s,
                    "ran_s": round(ran_s, 3),
                }
            )
    result.counts = {
        "checked": checked,
        "excused_by_pause": excused,
        "over_bound": over,
        "worst_overrun_s": round(worst_s, 3),
    }
    result.valid = over == 0
    return result


def check_leaks(data: RunData) -> CheckResult:
    result = CheckResult("leaks", True)
    late = excused = 0
    for execution in data.witness.late():
        span = (execution.start_t, max(execution.late_t))
        if overlaps(span, data.paused(execution.worker)):
            excused += 1
            continue
        late += 1
        result.example({"why": "child outlived its attempt", **execution.to_json()})
    strays = data.meta.get("strays", [])
    for stray in strays:
        result.example({"why": "process left at the end", **stray})
    result.counts = {
        "late_children": late,
        "late_excused_by_pause": excused,
        "leaked_processes": len(strays),
    }
    result.valid = late == 0 and not strays
    return result
