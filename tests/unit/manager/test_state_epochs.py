"""The epochs the state records next to every attempt and worker effect.

Each effect keeps the epoch its command carried and the epoch in force when
it applied. With fencing the two are always equal; the ``no-fencing`` test
fault lets a deposed leader's commands through, and the records show it.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from titan_ha.manager.records import AttemptRecord, WorkerRecord
from titan_ha.manager.state import ClusterState


def epoch(term: int, leader: str) -> dict[str, Any]:
    return {"op": "new_epoch", "term": term, "leader": leader}


def submit(task_id: str) -> dict[str, Any]:
    return {"op": "submit", "task_id": task_id, "spec": {"command": "true"}, "now": 0}


def fenced(op: str, epoch: Any, **fields: Any) -> dict[str, Any]:
    command = {"op": op, "worker_id": "w1", "incarnation": "i1", **fields}
    if epoch is not None:
        command["epoch"] = epoch
    return command


def assign(epoch: Any, task_id: str = "t1", attempt: int = 1) -> dict[str, Any]:
    return fenced("assign", epoch, task_id=task_id, attempt=attempt, now=20.0)


def complete(epoch: Any, task_id: str = "t1", attempt: int = 1) -> dict[str, Any]:
    return fenced(
        "complete",
        epoch,
        task_id=task_id,
        attempt=attempt,
        outcome="SUCCEEDED",
        exit_code=0,
        now=30.0,
    )


def unfenced_state() -> ClusterState:
    """A broken build: m1 led epoch 1, m2 now leads epoch 2; w1 runs nothing."""
    state = ClusterState(test_faults=frozenset({"no-fencing"}))
    state.apply(epoch(1, "m1"))
    state.apply(fenced("register_worker", 1, now=1.0))
    for task_id in ("t1", "t2"):
        state.apply(submit(task_id))
    state.apply(epoch(2, "m2"))
    return state


def epochs(attempt: AttemptRecord) -> tuple[int, int, int, int]:
    return (
        attempt.opened_by_epoch,
        attempt.opened_in_epoch,
        attempt.ended_by_epoch,
        attempt.ended_in_epoch,
    )


def worker_epochs(worker: WorkerRecord) -> tuple[int, int, int, int]:
    return (
        worker.registered_by_epoch,
        worker.registered_in_epoch,
        worker.reaped_by_epoch,
        worker.reaped_in_epoch,
    )


def test_current_epoch_effects_record_equal_epochs() -> None:
    state = ClusterState()
    state.apply(epoch(3, "m1"))
    state.apply(fenced("register_worker", 3, now=1.0))
    state.apply(submit("t1"))
    attempt_open = state.apply(assign(3))
    opened = epochs(state.tasks["t1"].attempts[0])

    state.apply(complete(3))

    assert attempt_open == {"ok": True, "attempt": 1}
    assert opened == (3, 3, 0, 0)
    assert epochs(state.tasks["t1"].attempts[0]) == (3, 3, 3, 3)
    assert worker_epochs(state.workers["w1"]) == (3, 3, 0, 0)
    assert state.stale_applied == {}


def test_a_deposed_leaders_assign_and_complete_are_recorded_as_stale() -> None:
    state = unfenced_state()

    assert state.apply(assign(1)) == {"ok": True, "attempt": 1}
    assert state.apply(complete(1)) == {"ok": True, "task_state": "SUCCEEDED"}
    state.apply(assign(2, "t2"))
    state.apply(complete(2, "t2"))

    assert epochs(state.tasks["t1"].attempts[0]) == (1, 2, 1, 2)
    assert epochs(state.tasks["t2"].attempts[0]) == (2, 2, 2, 2)
    assert state.stale_applied == {"assign": 1, "complete": 1}
    assert state.rejections == {}


def test_a_stale_reap_records_its_epochs_on_the_worker_and_its_attempts() -> None:
    state = unfenced_state()
    state.apply(assign(2))
    state.apply(assign(2, "t2"))

    result = state.apply(fenced("reap", 1, now=40.0))

    assert result == {"ok": True, "lost": ["t1", "t2"]}
    assert [epochs(state.tasks[t].attempts[0]) for t in ("t1", "t2")] == [
        (2, 2, 1, 2),
        (2, 2, 1, 2),
    ]
    assert worker_epochs(state.workers["w1"]) == (1, 1, 1, 2)
    assert state.stale_applied == {"reap": 1}


def test_a_reregister_without_an_epoch_records_minus_one() -> None:
    state = unfenced_state()
    state.apply(assign(2))

    result = state.apply(fenced("register_worker", None, incarnation="i2", now=5.0))

    assert result == {"ok": True, "lost": ["t1"]}
    assert epochs(state.tasks["t1"].attempts[0]) == (2, 2, -1, 2)
    assert worker_epochs(state.workers["w1"]) == (-1, 2, 0, 0)
    assert state.stale_applied == {"register_worker": 1}


def test_a_stale_register_that_changes_nothing_keeps_the_record() -> None:
    state = unfenced_state()

    assert state.apply(fenced("register_worker", 1, now=9.0)) == {
        "ok": True,
        "lost": [],
    }
    assert worker_epochs(state.workers["w1"]) == (1, 1, 0, 0)
    # Accepted all the same: fencing should have refused it.
    assert state.stale_applied == {"register_worker": 1}


def test_stale_ops_count_when_accepted_not_when_refused() -> None:
    state = unfenced_state()
    state.apply(assign(2))
    state.apply(complete(2))

    duplicate = state.apply(complete(1))
    refused = state.apply(assign(1, "t1", 2))

    assert duplicate == {"ok": True, "duplicate": True, "task_state": "SUCCEEDED"}
    assert refused == {"ok": False, "reason": "task not pending"}
    assert epochs(state.tasks["t1"].attempts[0]) == (2, 2, 2, 2)
    assert state.stale_applied == {"complete": 1}


def test_fencing_rejects_a_stale_op_before_it_records_anything() -> None:
    state = ClusterState()
    state.apply(epoch(1, "m1"))
    state.apply(fenced("register_worker", 1, now=1.0))
    state.apply(submit("t1"))
    state.apply(epoch(2, "m2"))

    assert state.apply(assign(1)) == {
        "ok": False,
        "reason": "stale epoch",
        "epoch": 2,
    }
    assert state.tasks["t1"].attempts == []
    assert state.stale_applied == {}


@pytest.mark.parametrize(("carried", "recorded"), [(2.0, 2), ("2", -1), (True, 1)])
def test_the_recorded_epoch_is_the_one_fencing_compares(
    carried: Any, recorded: int
) -> None:
    state = unfenced_state()

    state.apply(assign(carried))

    assert epochs(state.tasks["t1"].attempts[0])[:2] == (recorded, 2)


def test_records_from_an_older_snapshot_load_with_unrecorded_epochs() -> None:
    attempt = AttemptRecord(1, "w1", "i1", 20.0, outcome="SUCCEEDED")
    worker = WorkerRecord("w1", "i1", 1.0, running={"t1": 1})
    for record, names in (
        (attempt, ("opened", "ended")),
        (worker, ("registered", "reaped")),
    ):
        for name in names:
            delattr(record, f"{name}_by_epoch")
            delattr(record, f"{name}_in_epoch")

    loaded_attempt = pickle.loads(pickle.dumps(attempt))
    loaded_worker = pickle.loads(pickle.dumps(worker))

    assert loaded_attempt == AttemptRecord(1, "w1", "i1", 20.0, outcome="SUCCEEDED")
    assert loaded_worker == WorkerRecord("w1", "i1", 1.0, running={"t1": 1})
    assert loaded_worker.running is not worker.running


def test_a_snapshot_keeps_the_stale_counts() -> None:
    source = unfenced_state()
    source.apply(assign(1))
    replica = ClusterState()

    replica.restore(pickle.loads(pickle.dumps(source.to_snapshot())))

    assert replica.stale_applied == {"assign": 1}
    assert replica.tasks == source.tasks
