"""Example-based tests of the replicated state machine, one behaviour each.

Every test drives ``ClusterState.apply`` with plain command dicts, as the Raft
log would, and asserts exact results and exact records.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import pytest

from titan_ha.manager.commands import OUTPUT_CHUNK_CHARS
from titan_ha.manager.records import (
    AttemptRecord,
    OutputRecord,
    TaskSpecRecord,
)
from titan_ha.manager.state import ClusterState
from titan_ha.models import MAX_WORKER_LOST, Outcome, TaskState, WorkerState

EPOCH = 1


def new_state() -> ClusterState:
    """A state whose first leader (m1, term 1) has committed its epoch."""
    state = ClusterState()
    assert state.apply({"op": "new_epoch", "term": EPOCH, "leader": "m1"}) == {
        "ok": True,
        "epoch": EPOCH,
    }
    return state


def frozen(state: ClusterState) -> dict[str, Any]:
    """A deep copy of the snapshot without the apply and rejection counters."""
    snapshot: dict[str, Any] = pickle.loads(pickle.dumps(state.to_snapshot()))
    del snapshot["applied"], snapshot["rejections"]
    return snapshot


def submit(task_id: str, now: float = 10.0, **spec: Any) -> dict[str, Any]:
    return {
        "op": "submit",
        "task_id": task_id,
        "spec": {"command": "echo hi", **spec},
        "now": now,
    }


def register(
    worker_id: str = "w1", incarnation: str = "i1", now: float = 1.0
) -> dict[str, Any]:
    return {
        "op": "register_worker",
        "epoch": EPOCH,
        "worker_id": worker_id,
        "incarnation": incarnation,
        "now": now,
    }


def assign(
    task_id: str,
    attempt: int,
    worker_id: str = "w1",
    incarnation: str = "i1",
    now: float = 20.0,
) -> dict[str, Any]:
    return {
        "op": "assign",
        "epoch": EPOCH,
        "task_id": task_id,
        "attempt": attempt,
        "worker_id": worker_id,
        "incarnation": incarnation,
        "now": now,
    }


def complete(
    task_id: str,
    attempt: int,
    outcome: str = "SUCCEEDED",
    exit_code: int | None = 0,
    worker_id: str = "w1",
    incarnation: str = "i1",
    now: float = 30.0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "op": "complete",
        "epoch": EPOCH,
        "task_id": task_id,
        "attempt": attempt,
        "worker_id": worker_id,
        "incarnation": incarnation,
        "outcome": outcome,
        "exit_code": exit_code,
        "signal": "",
        "now": now,
        **extra,
    }


def output(
    task_id: str,
    attempt: int,
    index: int,
    data: str,
    stream: str = "stdout",
    worker_id: str = "w1",
    incarnation: str = "i1",
) -> dict[str, Any]:
    return {
        "op": "output",
        "epoch": EPOCH,
        "task_id": task_id,
        "attempt": attempt,
        "worker_id": worker_id,
        "incarnation": incarnation,
        "stream": stream,
        "index": index,
        "data": data,
    }


def reap(
    worker_id: str = "w1", incarnation: str = "i1", now: float = 40.0
) -> dict[str, Any]:
    return {
        "op": "reap",
        "epoch": EPOCH,
        "worker_id": worker_id,
        "incarnation": incarnation,
        "now": now,
    }


def running_state() -> ClusterState:
    """Task t1 (max_retries=1) runs as attempt 1 on worker w1, incarnation i1."""
    state = new_state()
    assert state.apply(register())["ok"] is True
    assert state.apply(submit("t1", max_retries=1))["ok"] is True
    assert state.apply(assign("t1", 1)) == {"ok": True, "attempt": 1}
    return state


# Submit


def test_submit_creates_pending_task_with_next_seq() -> None:
    state = new_state()

    first = state.apply(submit("t1", now=10.0, timeout_s=5, max_retries=2))
    second = state.apply(submit("t2", now=11.0, idempotency_key="k2"))

    assert first == {"ok": True, "task_id": "t1", "existed": False}
    assert second == {"ok": True, "task_id": "t2", "existed": False}
    t1, t2 = state.tasks["t1"], state.tasks["t2"]
    assert (t1.seq, t1.state, t1.submitted_at) == (1, TaskState.PENDING, 10.0)
    assert (t2.seq, t2.state, t2.submitted_at) == (2, TaskState.PENDING, 11.0)
    assert t1.spec == TaskSpecRecord(command="echo hi", timeout_s=5.0, max_retries=2)
    assert t2.spec.idempotency_key == "k2"
    assert t1.attempts == []
    assert t1.finished_at == 0.0
    assert list(state.pending) == ["t1", "t2"]
    assert state.keys == {"k2": "t2"}
    assert state.next_seq == 3
    assert state.rejections == {}


def test_repeated_idempotency_key_returns_existing_task() -> None:
    state = new_state()
    assert state.apply(submit("t1", idempotency_key="k")) == {
        "ok": True,
        "task_id": "t1",
        "existed": False,
    }
    before = frozen(state)

    # A retried submit carries a fresh proposed id and may differ in spec.
    again = state.apply(submit("t2", now=99.0, idempotency_key="k", max_retries=5))

    assert again == {"ok": True, "task_id": "t1", "existed": True}
    assert frozen(state) == before
    assert list(state.tasks) == ["t1"]
    assert state.tasks["t1"].spec.max_retries == 0
    assert state.next_seq == 2


def test_idempotency_key_still_answers_after_the_task_finished() -> None:
    state = new_state()
    state.apply(submit("t1", idempotency_key="k"))
    state.apply({"op": "cancel", "task_id": "t1", "now": 12.0})

    assert state.apply(submit("t2", idempotency_key="k")) == {
        "ok": True,
        "task_id": "t1",
        "existed": True,
    }
    assert state.tasks["t1"].state == TaskState.CANCELLED
    assert list(state.tasks) == ["t1"]


def test_empty_idempotency_key_never_deduplicates() -> None:
    state = new_state()

    first = state.apply(submit("t1", idempotency_key=""))
    second = state.apply(submit("t2", idempotency_key=""))

    assert first == {"ok": True, "task_id": "t1", "existed": False}
    assert second == {"ok": True, "task_id": "t2", "existed": False}
    assert state.keys == {}


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param({"command": ""}, "command must be a non-empty string", id="empty"),
        pytest.param(
            {"command": "  \t"}, "command must be a non-empty string", id="blank"
        ),
        pytest.param({}, "command must be a non-empty string", id="no-command"),
        pytest.param({"command": 7}, "command must be a non-empty string", id="int"),
        pytest.param(
            {"command": "x", "timeout_s": -1},
            "timeout_s must be a finite number >= 0",
            id="negative-timeout",
        ),
        pytest.param(
            {"command": "x", "timeout_s": math.nan},
            "timeout_s must be a finite number >= 0",
            id="nan-timeout",
        ),
        pytest.param(
            {"command": "x", "timeout_s": math.inf},
            "timeout_s must be a finite number >= 0",
            id="inf-timeout",
        ),
        pytest.param(
            {"command": "x", "timeout_s": "soon"},
            "numeric fields must be finite numbers",
            id="text-timeout",
        ),
        pytest.param(
            {"command": "x", "max_retries": -1},
            "max_retries, cpus and memory_bytes must be >= 0",
            id="negative-retries",
        ),
        pytest.param(
            {"command": "x", "memory_bytes": -5},
            "max_retries, cpus and memory_bytes must be >= 0",
            id="negative-memory",
        ),
        pytest.param("echo hi", "spec must be a mapping", id="str-spec"),
        pytest.param(["echo", "hi"], "spec must be a mapping", id="list-spec"),
        pytest.param(None, "spec must be a mapping", id="none-spec"),
    ],
)
def test_invalid_spec_is_rejected_and_changes_nothing(spec: Any, detail: str) -> None:
    state = new_state()
    before = frozen(state)

    result = state.apply({"op": "submit", "task_id": "t1", "spec": spec, "now": 1.0})

    assert result == {"ok": False, "reason": "invalid spec", "detail": detail}
    assert frozen(state) == before
    assert state.rejections == {"invalid spec": 1}


@pytest.mark.parametrize("cpus", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_cpus_is_rejected(cpus: float) -> None:
    state = new_state()

    result = state.apply(submit("t1", cpus=cpus))

    assert result["ok"] is False
    assert state.tasks == {}


def test_infinite_max_retries_is_an_invalid_spec() -> None:
    state = new_state()

    result = state.apply(submit("t1", max_retries=math.inf))

    assert result["reason"] == "invalid spec"


def test_submit_without_now_is_rejected_and_changes_nothing() -> None:
    state = new_state()
    before = frozen(state)
    command = submit("t1")
    del command["now"]

    result = state.apply(command)

    assert result["ok"] is False
    assert frozen(state) == before


@pytest.mark.parametrize("task_id", ["", None])
def test_submit_without_task_id_is_rejected(task_id: str | None) -> None:
    state = new_state()
    before = frozen(state)
    command = submit("x")
    if task_id is None:
        del command["task_id"]
    else:
        command["task_id"] = task_id

    assert state.apply(command) == {
        "ok": False,
        "reason": "task id missing or taken",
        "task_id": "",
    }
    assert frozen(state) == before


def test_submit_with_taken_task_id_is_rejected() -> None:
    state = new_state()
    state.apply(submit("t1"))
    before = frozen(state)

    assert state.apply(submit("t1", idempotency_key="new")) == {
        "ok": False,
        "reason": "task id missing or taken",
        "task_id": "t1",
    }
    assert frozen(state) == before


# Assign and complete


def test_assign_then_complete_succeeds() -> None:
    state = new_state()
    assert state.apply(register(now=1.0)) == {"ok": True, "lost": []}
    state.apply(submit("t1", now=10.0))
    worker = state.workers["w1"]
    idle = worker.state

    assert state.apply(assign("t1", 1, now=20.0)) == {"ok": True, "attempt": 1}
    task = state.tasks["t1"]
    assert (idle, worker.state, task.state) == (
        WorkerState.IDLE,
        WorkerState.BUSY,
        TaskState.RUNNING,
    )
    assert state.pending == {}
    assert worker.running == {"t1": 1}

    result = state.apply(
        complete(
            "t1",
            1,
            now=30.0,
            stdout="hi\n",
            stdout_bytes=3,
            stderr="",
            stderr_bytes=0,
        )
    )

    assert result == {"ok": True, "task_state": "SUCCEEDED"}
    assert task.state == TaskState.SUCCEEDED
    assert task.finished_at == 30.0
    assert task.attempts == [
        AttemptRecord(
            number=1,
            worker_id="w1",
            incarnation="i1",
            started_at=20.0,
            outcome=Outcome.SUCCEEDED,
            exit_code=0,
            signal="",
            finished_at=30.0,
            error="",
            opened_by_epoch=EPOCH,
            opened_in_epoch=EPOCH,
            ended_by_epoch=EPOCH,
            ended_in_epoch=EPOCH,
        )
    ]
    assert task.stdout == OutputRecord(text="hi\n", total_bytes=3, truncated=False)
    assert task.stderr == OutputRecord(text="", total_bytes=0, truncated=False)
    assert state.workers["w1"].running == {}
    assert state.workers["w1"].state == WorkerState.IDLE
    assert state.rejections == {}


def test_assign_rejections_change_nothing() -> None:
    state = new_state()
    state.apply(register())
    state.apply(register("w2", "j1"))
    state.apply({"op": "drain", "epoch": EPOCH, "worker_id": "w2"})
    state.apply(submit("t1"))
    before = frozen(state)

    results = [
        state.apply(assign("nope", 1)),
        state.apply(assign("t1", 1, worker_id="nobody")),
        state.apply(assign("t1", 1, worker_id="w2", incarnation="j1")),
        state.apply(assign("t1", 1, incarnation="old")),
        state.apply(assign("t1", 2)),
        state.apply(assign("t1", 0)),
    ]

    assert results == [
        {"ok": False, "reason": "task not pending"},
        {"ok": False, "reason": "worker cannot take work"},
        {"ok": False, "reason": "worker cannot take work"},
        {"ok": False, "reason": "stale incarnation"},
        {"ok": False, "reason": "wrong attempt number", "expected": 1},
        {"ok": False, "reason": "wrong attempt number", "expected": 1},
    ]
    assert frozen(state) == before
    state.apply(assign("t1", 1))
    assert state.apply(assign("t1", 2)) == {"ok": False, "reason": "task not pending"}


def test_max_retries_two_with_exit_3_fails_after_exactly_three_attempts() -> None:
    state = new_state()
    state.apply(register())
    state.apply(submit("t1", max_retries=2))
    task = state.tasks["t1"]

    results = []
    for number in (1, 2, 3):
        assert state.apply(assign("t1", number, now=10.0 * number)) == {
            "ok": True,
            "attempt": number,
        }
        results.append(
            state.apply(
                complete("t1", number, "FAILED", exit_code=3, now=10.0 * number + 1)
            )
        )

    assert results == [
        {"ok": True, "task_state": "PENDING"},
        {"ok": True, "task_state": "PENDING"},
        {"ok": True, "task_state": "FAILED"},
    ]
    assert task.state == TaskState.FAILED
    assert task.finished_at == 31.0
    assert [(a.number, a.outcome, a.exit_code) for a in task.attempts] == [
        (1, Outcome.FAILED, 3),
        (2, Outcome.FAILED, 3),
        (3, Outcome.FAILED, 3),
    ]
    assert state.pending == {}
    assert state.apply(assign("t1", 4)) == {"ok": False, "reason": "task not pending"}
    assert len(task.attempts) == 3


def test_success_on_third_attempt_stops_retrying() -> None:
    state = new_state()
    state.apply(register())
    state.apply(submit("t1", max_retries=2))
    plan = [("FAILED", 3), ("TIMED_OUT", 137), ("SUCCEEDED", 0)]

    results = []
    for number, (outcome, exit_code) in enumerate(plan, start=1):
        state.apply(assign("t1", number))
        results.append(state.apply(complete("t1", number, outcome, exit_code)))

    assert [r["task_state"] for r in results] == ["PENDING", "PENDING", "SUCCEEDED"]
    task = state.tasks["t1"]
    assert task.state == TaskState.SUCCEEDED
    assert [a.outcome for a in task.attempts] == [
        Outcome.FAILED,
        Outcome.TIMED_OUT,
        Outcome.SUCCEEDED,
    ]
    assert state.pending == {}


@pytest.mark.parametrize("outcome", ["FAILED", "TIMED_OUT", "OOM_KILLED", "ERROR"])
def test_every_command_failure_spends_the_retry_budget(outcome: str) -> None:
    state = new_state()
    state.apply(register())
    state.apply(submit("t1", max_retries=0))
    state.apply(assign("t1", 1))

    assert state.apply(complete("t1", 1, outcome, exit_code=1)) == {
        "ok": True,
        "task_state": "FAILED",
    }


def test_attempt_ending_cancelled_cancels_the_task() -> None:
    state = running_state()

    assert state.apply(complete("t1", 1, "CANCELLED", exit_code=None)) == {
        "ok": True,
        "task_state": "CANCELLED",
    }
    assert state.tasks["t1"].attempts[0].exit_code is None
    assert state.pending == {}


# Epoch fencing


def test_new_epoch_rules() -> None:
    state = new_state()

    assert state.apply({"op": "new_epoch", "term": 1, "leader": "m1"}) == {
        "ok": True,
        "epoch": 1,
    }
    assert state.apply({"op": "new_epoch", "term": 1, "leader": "m2"}) == {
        "ok": False,
        "reason": "stale epoch",
        "epoch": 1,
    }
    assert state.apply({"op": "new_epoch", "term": 3, "leader": "m2"}) == {
        "ok": True,
        "epoch": 3,
    }
    assert state.apply({"op": "new_epoch", "term": 2, "leader": "m3"}) == {
        "ok": False,
        "reason": "stale epoch",
        "epoch": 3,
    }
    assert (state.epoch, state.epoch_leader) == (3, "m2")
    assert state.rejections == {"stale epoch": 2}


@pytest.mark.parametrize("stale", [0, 1, 3, None])
@pytest.mark.parametrize(
    "op",
    ["assign", "complete", "output", "reap", "register_worker", "drain"],
)
def test_fenced_op_with_wrong_epoch_is_rejected_and_counted(
    op: str, stale: int | None
) -> None:
    state = running_state()
    state.apply(submit("t2"))
    state.apply({"op": "new_epoch", "term": 2, "leader": "m2"})
    commands: dict[str, dict[str, Any]] = {
        "assign": assign("t2", 1),
        "complete": complete("t1", 1),
        "output": output("t1", 1, 0, "x"),
        "reap": reap(),
        "register_worker": register("w1", "i2"),
        "drain": {"op": "drain", "worker_id": "w1"},
    }
    command = commands[op]
    if stale is None:
        command.pop("epoch", None)
    else:
        command["epoch"] = stale
    before = frozen(state)

    result = state.apply(command)

    assert result == {"ok": False, "reason": "stale epoch", "epoch": 2}
    assert frozen(state) == before
    assert state.rejections == {"stale epoch": 1}
    # The same command from the current leader goes through.
    command["epoch"] = 2
    assert state.apply(command)["ok"] is True


# Stale and duplicate results


def test_complete_from_stale_attempt_never_overwrites_newer_attempt() -> None:
    state = running_state()
    assert state.apply(reap(now=40.0)) == {"ok": True, "lost": ["t1"]}
    task = state.tasks["t1"]
    assert task.state == TaskState.PENDING
    assert list(state.pending) == ["t1"]
    # The worker restarts as a new incarnation and gets the retry.
    assert state.apply(register("w1", "i2", now=41.0)) == {"ok": True, "lost": []}
    assert state.apply(assign("t1", 2, incarnation="i2", now=42.0)) == {
        "ok": True,
        "attempt": 2,
    }
    before = frozen(state)

    # The old process was alive after all and reports late.
    late = state.apply(complete("t1", 1, "SUCCEEDED", now=43.0))
    wrong_attempt = state.apply(complete("t1", 2, "SUCCEEDED", now=43.0))
    late_output = state.apply(output("t1", 2, 0, "old"))

    assert late == {
        "ok": False,
        "reason": "attempt already ended",
        "outcome": "WORKER_LOST",
    }
    assert wrong_attempt == {
        "ok": False,
        "reason": "attempt belongs to another worker",
    }
    assert late_output == {
        "ok": False,
        "reason": "attempt belongs to another worker",
    }
    assert frozen(state) == before
    assert task.attempts[1].is_open
    assert state.workers["w1"].running == {"t1": 2}

    assert state.apply(
        complete("t1", 2, "FAILED", exit_code=1, incarnation="i2", now=44.0)
    ) == {"ok": True, "task_state": "PENDING"}
    assert [a.outcome for a in task.attempts] == [
        Outcome.WORKER_LOST,
        Outcome.FAILED,
    ]


@pytest.mark.parametrize("attempt", [0, 2, -1, "1", None])
def test_complete_of_unknown_attempt_is_rejected(attempt: Any) -> None:
    state = running_state()
    before = frozen(state)

    assert state.apply(complete("t1", attempt)) == {
        "ok": False,
        "reason": "unknown attempt",
    }
    assert frozen(state) == before


def test_complete_of_unknown_task_or_outcome_is_rejected() -> None:
    state = running_state()
    before = frozen(state)

    assert state.apply(complete("nope", 1)) == {"ok": False, "reason": "unknown task"}
    assert state.apply(complete("t1", 1, "EXPLODED")) == {
        "ok": False,
        "reason": "unknown outcome",
    }
    assert frozen(state) == before


def test_duplicate_complete_is_acknowledged_and_applied_once() -> None:
    state = running_state()
    task = state.tasks["t1"]
    first = state.apply(complete("t1", 1, "FAILED", exit_code=2, now=30.0))
    after_first = frozen(state)

    again = state.apply(complete("t1", 1, "FAILED", exit_code=2, now=31.0))
    conflicting = state.apply(complete("t1", 1, "SUCCEEDED", now=32.0))

    assert first == {"ok": True, "task_state": "PENDING"}
    assert again == {"ok": True, "duplicate": True, "task_state": "PENDING"}
    assert conflicting == {
        "ok": False,
        "reason": "attempt already ended",
        "outcome": "FAILED",
    }
    assert frozen(state) == after_first
    # One failure spent, not two: max_retries=1 still allows a retry.
    assert task.count_outcomes(Outcome.FAILED) == 1
    assert task.attempts[0].finished_at == 30.0
    assert list(state.pending) == ["t1"]


# Reap and re-register


def test_reap_ends_running_attempts_worker_lost_and_requeues() -> None:
    state = new_state()
    state.apply(register())
    state.apply(register("w2", "j1"))
    for task_id in ("t1", "t2", "t3"):
        state.apply(submit(task_id))
    state.apply(assign("t1", 1))
    state.apply(assign("t2", 1))
    assert list(state.pending) == ["t3"]

    assert state.apply(reap(now=40.0)) == {"ok": True, "lost": ["t1", "t2"]}

    worker = state.workers["w1"]
    assert (worker.dead, worker.running, worker.state) == (True, {}, WorkerState.DEAD)
    assert list(state.pending) == ["t3", "t1", "t2"]
    for task_id in ("t1", "t2"):
        task = state.tasks[task_id]
        assert task.state == TaskState.PENDING
        assert [(a.outcome, a.finished_at) for a in task.attempts] == [
            (Outcome.WORKER_LOST, 40.0)
        ]
    assert state.apply(assign("t3", 1)) == {
        "ok": False,
        "reason": "worker cannot take work",
    }
    assert state.apply(reap()) == {
        "ok": False,
        "reason": "worker unknown or already dead",
    }
    assert state.apply(reap("w2", "old")) == {
        "ok": False,
        "reason": "stale incarnation",
    }
    assert state.workers["w2"].dead is False


def test_worker_lost_attempts_are_bounded_separately_from_retries() -> None:
    state = new_state()
    state.apply(submit("t1", max_retries=0))
    task = state.tasks["t1"]

    results = []
    for number in range(1, MAX_WORKER_LOST + 1):
        incarnation = f"i{number}"
        state.apply(register("w1", incarnation, now=float(number)))
        state.apply(assign("t1", number, incarnation=incarnation))
        results.append(state.apply(reap("w1", incarnation, now=100.0 + number)))

    assert results == [{"ok": True, "lost": ["t1"]}] * MAX_WORKER_LOST
    assert task.state == TaskState.FAILED
    assert task.finished_at == 100.0 + MAX_WORKER_LOST
    assert [a.outcome for a in task.attempts] == [Outcome.WORKER_LOST] * 3
    assert state.pending == {}


def test_reregister_with_new_incarnation_loses_old_attempts() -> None:
    state = running_state()
    state.apply({"op": "drain", "epoch": EPOCH, "worker_id": "w1"})

    assert state.apply(register("w1", "i2", now=50.0)) == {
        "ok": True,
        "lost": ["t1"],
    }

    worker = state.workers["w1"]
    assert (worker.incarnation, worker.registered_at) == ("i2", 50.0)
    assert (worker.dead, worker.draining, worker.running) == (False, False, {})
    task = state.tasks["t1"]
    assert task.state == TaskState.PENDING
    assert [(a.outcome, a.finished_at) for a in task.attempts] == [
        (Outcome.WORKER_LOST, 50.0)
    ]
    assert list(state.pending) == ["t1"]
    assert state.apply(assign("t1", 2)) == {
        "ok": False,
        "reason": "stale incarnation",
    }
    assert state.apply(assign("t1", 2, incarnation="i2")) == {
        "ok": True,
        "attempt": 2,
    }


def test_reregister_with_same_incarnation_keeps_attempts() -> None:
    state = running_state()
    before = frozen(state)

    assert state.apply(register("w1", "i1", now=50.0)) == {"ok": True, "lost": []}
    assert frozen(state) == before


def test_reregister_revives_a_reaped_worker() -> None:
    state = running_state()
    state.apply(reap())

    assert state.apply(register("w1", "i1", now=60.0)) == {"ok": True, "lost": []}
    assert state.workers["w1"].dead is False
    assert state.apply(assign("t1", 2)) == {"ok": True, "attempt": 2}


@pytest.mark.parametrize(
    "identity",
    [{"worker_id": ""}, {"incarnation": ""}, {"worker_id": "", "incarnation": ""}],
)
def test_register_without_identity_is_rejected(identity: dict[str, str]) -> None:
    state = new_state()

    assert state.apply({**register(), **identity}) == {
        "ok": False,
        "reason": "worker id and incarnation are required",
    }
    assert state.workers == {}


def test_register_with_identity_keys_absent_is_rejected() -> None:
    state = new_state()

    assert state.apply({"op": "register_worker", "epoch": EPOCH, "now": 1.0}) == {
        "ok": False,
        "reason": "worker id and incarnation are required",
    }
    assert state.workers == {}


@pytest.mark.parametrize("op", ["register_worker", "submit"])
def test_none_ids_are_rejected(op: str) -> None:
    state = new_state()
    if op == "register_worker":
        command = {**register(), "worker_id": None, "incarnation": None}
    else:
        command = {**submit("x"), "task_id": None}

    assert state.apply(command)["ok"] is False
    assert (state.workers, state.tasks) == ({}, {})


# Chunked output


def test_chunked_output_reassembles_exactly() -> None:
    state = running_state()
    stdout_chunks = ["a" * OUTPUT_CHUNK_CHARS, "é🙂\n" * 100, "tail\n"]
    stderr_chunks = ["warn\n"]
    for index, data in enumerate(stdout_chunks):
        assert state.apply(output("t1", 1, index, data)) == {"ok": True}
    assert state.apply(output("t1", 1, 0, stderr_chunks[0], "stderr")) == {"ok": True}
    assert state.staged[("t1", 1, "stdout")] == stdout_chunks

    result = state.apply(
        complete(
            "t1",
            1,
            stdout_chunks=3,
            stdout_bytes=12345,
            stdout_truncated=True,
            stderr_chunks=1,
        )
    )

    assert result == {"ok": True, "task_state": "SUCCEEDED"}
    task = state.tasks["t1"]
    assert task.stdout == OutputRecord(
        text="".join(stdout_chunks), total_bytes=12345, truncated=True
    )
    assert task.stderr == OutputRecord(text="warn\n", total_bytes=5, truncated=False)
    assert state.staged == {}


def test_out_of_order_chunk_is_rejected_and_resent_chunk_is_a_duplicate() -> None:
    state = running_state()
    state.apply(output("t1", 1, 0, "zero"))
    state.apply(output("t1", 1, 1, "one"))

    results = [
        state.apply(output("t1", 1, 3, "three")),
        state.apply(output("t1", 1, -1, "one")),
        state.apply({**output("t1", 1, 0, "two"), "index": "2"}),
        state.apply(output("t1", 1, 0, "zero")),
        state.apply(output("t1", 1, 1, "one")),
        state.apply(output("t1", 1, 0, "other")),
    ]

    assert results == [
        {"ok": False, "reason": "output chunk out of order", "expected": 2},
        {"ok": False, "reason": "output chunk out of order", "expected": 2},
        {"ok": False, "reason": "output chunk out of order", "expected": 2},
        {"ok": True, "duplicate": True},
        {"ok": True, "duplicate": True},
        {"ok": False, "reason": "output chunk differs from the staged one"},
    ]
    assert state.staged == {("t1", 1, "stdout"): ["zero", "one"]}


def test_complete_with_missing_chunks_is_rejected_until_they_arrive() -> None:
    state = running_state()
    state.apply(output("t1", 1, 0, "zero"))
    state.apply(output("t1", 1, 1, "one"))
    before = frozen(state)

    missing = state.apply(complete("t1", 1, stdout_chunks=3))

    assert missing == {"ok": False, "reason": "staged output incomplete"}
    assert frozen(state) == before
    assert state.tasks["t1"].attempts[0].is_open

    state.apply(output("t1", 1, 2, "two"))
    assert state.apply(complete("t1", 1, stdout_chunks=3)) == {
        "ok": True,
        "task_state": "SUCCEEDED",
    }
    assert state.tasks["t1"].stdout.text == "zeroonetwo"


def test_output_rules() -> None:
    state = running_state()

    assert state.apply(output("t1", 1, 0, "x", stream="stdin")) == {
        "ok": False,
        "reason": "malformed output chunk",
    }
    assert state.apply(output("t1", 1, 0, b"x")) == {  # type: ignore[arg-type]
        "ok": False,
        "reason": "malformed output chunk",
    }
    state.apply(complete("t1", 1, "FAILED", exit_code=1))
    assert state.apply(output("t1", 1, 0, "x")) == {
        "ok": False,
        "reason": "attempt already finished",
    }
    assert state.staged == {}


def test_lost_attempt_drops_its_staged_output() -> None:
    state = running_state()
    state.apply(output("t1", 1, 0, "partial"))

    state.apply(reap())

    assert state.staged == {}


@pytest.mark.parametrize("index", [1, -1])
def test_rejected_first_chunk_changes_nothing(index: int) -> None:
    state = running_state()
    before = frozen(state)

    result = state.apply(output("t1", 1, index, "x"))

    assert result == {
        "ok": False,
        "reason": "output chunk out of order",
        "expected": 0,
    }
    assert frozen(state) == before


# Cancel


def test_cancel_pending_task() -> None:
    state = new_state()
    state.apply(register())
    state.apply(submit("t1"))
    state.apply(submit("t2"))

    assert state.apply({"op": "cancel", "task_id": "t1", "now": 15.0}) == {
        "ok": True,
        "task_state": "CANCELLED",
    }

    task = state.tasks["t1"]
    assert (task.state, task.finished_at, task.attempts) == (
        TaskState.CANCELLED,
        15.0,
        [],
    )
    assert list(state.pending) == ["t2"]
    assert state.apply(assign("t1", 1)) == {"ok": False, "reason": "task not pending"}


def test_cancel_running_task_waits_for_the_worker_to_report() -> None:
    state = running_state()

    assert state.apply({"op": "cancel", "task_id": "t1", "now": 25.0}) == {
        "ok": True,
        "task_state": "CANCELLED",
    }

    # NOTE: the attempt stays open and the worker keeps it until it reports
    # (or is lost): the process is still running until the worker kills it.
    task = state.tasks["t1"]
    assert (task.state, task.finished_at) == (TaskState.CANCELLED, 25.0)
    assert task.attempts[0].is_open
    assert state.workers["w1"].running == {"t1": 1}
    assert state.pending == {}

    assert state.apply(complete("t1", 1, "CANCELLED", exit_code=137, now=26.0)) == {
        "ok": True,
        "task_state": "CANCELLED",
    }
    assert task.attempts[0].outcome == Outcome.CANCELLED
    assert task.finished_at == 25.0
    assert state.workers["w1"].running == {}
    assert state.pending == {}


def test_cancel_of_final_task_reports_its_state_and_changes_nothing() -> None:
    state = running_state()
    state.apply(complete("t1", 1))
    before = frozen(state)

    assert state.apply({"op": "cancel", "task_id": "t1", "now": 99.0}) == {
        "ok": True,
        "task_state": "SUCCEEDED",
    }
    assert frozen(state) == before


def test_cancel_of_unknown_task_is_rejected() -> None:
    state = new_state()

    assert state.apply({"op": "cancel", "task_id": "nope", "now": 1.0}) == {
        "ok": False,
        "reason": "unknown task",
    }


# Dispatch


def test_unknown_op_is_rejected_without_raising() -> None:
    state = new_state()
    before = frozen(state)

    assert state.apply({"op": "frobnicate"}) == {
        "ok": False,
        "reason": "unknown op",
        "op": "frobnicate",
    }
    assert state.apply({"task_id": "t1"}) == {
        "ok": False,
        "reason": "unknown op",
        "op": "None",
    }
    assert state.apply({"op": 3}) == {"ok": False, "reason": "unknown op", "op": "3"}
    assert state.apply({"op": "barrier", "v": 2}) == {
        "ok": False,
        "reason": "command version from the future",
    }
    assert frozen(state) == before
    assert state.rejections == {"unknown op": 3, "command version from the future": 1}
    assert state.applied == 5


def test_barrier_reports_applied_count() -> None:
    state = new_state()

    assert state.apply({"op": "barrier"}) == {"ok": True, "applied": 2}


@pytest.mark.parametrize("command", [None, "submit", ["op", "submit"], 42], ids=repr)
def test_non_dict_command_is_rejected_without_raising(command: Any) -> None:
    state = new_state()

    assert state.apply(command) == {"ok": False, "reason": "malformed command"}


def without_now(command: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k != "now"}


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(without_now(submit("t2")), id="submit"),
        pytest.param(without_now(register("w9", "n1")), id="register-new"),
        pytest.param(without_now(register("w1", "i2")), id="register-restart"),
        pytest.param(without_now(assign("t2", 1)), id="assign"),
        pytest.param(without_now(complete("t1", 1)), id="complete"),
        pytest.param(without_now(reap()), id="reap"),
        pytest.param({"op": "cancel", "task_id": "t1"}, id="cancel"),
    ],
)
def test_command_missing_now_is_rejected_and_changes_nothing(
    command: dict[str, Any],
) -> None:
    state = running_state()
    state.apply(submit("t3"))
    state.apply({"op": "cancel", "task_id": "t3", "now": 12.0})
    state.apply(submit("t2"))
    state.apply(register("w2", "j0"))
    state.apply({"op": "drain", "epoch": EPOCH, "worker_id": "w2"})
    state.apply(register("w3", "k1"))
    before = frozen(state)

    result = state.apply(command)

    assert result["ok"] is False
    assert frozen(state) == before


def test_retried_complete_after_a_malformed_one_finishes_the_task() -> None:
    state = running_state()
    state.apply(without_now(complete("t1", 1)))

    assert state.apply(complete("t1", 1)) == {"ok": True, "task_state": "SUCCEEDED"}
    assert state.tasks["t1"].state == TaskState.SUCCEEDED


def test_new_epoch_without_leader_changes_nothing() -> None:
    state = new_state()
    before = frozen(state)

    assert state.apply({"op": "new_epoch", "term": 2})["ok"] is False

    assert frozen(state) == before
    assert state.apply({"op": "new_epoch", "term": 2, "leader": "m2"}) == {
        "ok": True,
        "epoch": 2,
    }


# Snapshots


def busy_state() -> ClusterState:
    """Tasks in every state, two workers (one dead), keys and staged output."""
    state = new_state()
    state.apply(register("w1", "i1"))
    state.apply(register("w2", "j1"))
    state.apply(submit("done", idempotency_key="k-done"))
    state.apply(submit("failed", max_retries=1))
    state.apply(submit("running"))
    state.apply(submit("cancelled"))
    state.apply(submit("lost"))
    state.apply(submit("waiting", idempotency_key="k-wait"))
    state.apply(assign("done", 1))
    state.apply(complete("done", 1, stdout="ok\n"))
    state.apply(assign("failed", 1))
    state.apply(complete("failed", 1, "FAILED", exit_code=3))
    state.apply({"op": "cancel", "task_id": "cancelled", "now": 12.0})
    state.apply(assign("running", 1, "w2", "j1"))
    state.apply(output("running", 1, 0, "so far", worker_id="w2", incarnation="j1"))
    state.apply(assign("lost", 1))
    state.apply(reap("w1", "i1"))
    state.apply(assign("nope", 1))
    return state


def test_snapshot_round_trip_restores_identical_state() -> None:
    source = busy_state()
    blob = pickle.dumps(source.to_snapshot())
    replica = ClusterState()
    holder = {"state": replica}
    lock = replica.lock

    replica.restore(pickle.loads(blob))

    assert holder["state"] is replica
    assert replica.lock is lock
    assert replica.tasks == source.tasks
    assert replica.workers == source.workers
    assert (
        list(replica.pending) == list(source.pending) == ["waiting", "failed", "lost"]
    )
    assert replica.keys == source.keys
    assert replica.staged == {("running", 1, "stdout"): ["so far"]}
    assert (replica.epoch, replica.epoch_leader, replica.next_seq) == (1, "m1", 7)
    assert replica.rejections == source.rejections == {"task not pending": 1}
    assert frozen(replica) == frozen(source)

    # Both replicas go on applying the same log identically.
    for state in (source, replica):
        state.apply(register("w1", "i2"))
        state.apply(assign("failed", 2, incarnation="i2"))
        state.apply(
            complete(
                "running",
                1,
                stdout_chunks=1,
                worker_id="w2",
                incarnation="j1",
            )
        )
    assert frozen(replica) == frozen(source)
    assert replica.tasks["running"].stdout.text == "so far"


def test_restore_replaces_previous_contents_in_place() -> None:
    replica = busy_state()
    empty = pickle.loads(pickle.dumps(ClusterState().to_snapshot()))

    replica.restore(empty)

    assert (replica.tasks, replica.workers, replica.pending) == ({}, {}, {})
    assert (replica.epoch, replica.next_seq, replica.applied) == (0, 1, 0)


def test_restore_of_older_snapshot_fills_missing_fields_with_defaults() -> None:
    source = busy_state()
    snapshot = pickle.loads(pickle.dumps(source.to_snapshot()))
    del snapshot["staged"], snapshot["rejections"]
    replica = ClusterState()

    replica.restore(snapshot)

    assert replica.staged == {}
    assert replica.rejections == {}
    assert replica.tasks == source.tasks
