"""Pruning finished tasks: the gc command and the janitor's choice of tasks."""

from __future__ import annotations

from titan_ha.manager.janitor import prunable
from titan_ha.manager.state import ClusterState


def finished_state(done: int, pending: int) -> ClusterState:
    """``done`` cancelled tasks (finished) then ``pending`` pending ones."""
    state = ClusterState()
    state.apply({"op": "new_epoch", "term": 1, "leader": "m1"})
    for n in range(done + pending):
        state.apply(
            {
                "op": "submit",
                "task_id": f"t{n}",
                "now": 1.0,
                "spec": {"command": "true", "idempotency_key": f"k{n}"},
            }
        )
    for n in range(done):
        state.apply({"op": "cancel", "task_id": f"t{n}", "now": 2.0})
    return state


def test_prunable_picks_the_oldest_finished_beyond_the_bound() -> None:
    state = finished_state(done=5, pending=2)
    assert prunable(state, retain_finished=2, limit=100) == ["t0", "t1", "t2"]
    assert prunable(state, retain_finished=2, limit=2) == ["t0", "t1"]
    assert prunable(state, retain_finished=5, limit=100) == []


def test_gc_forgets_finished_tasks_and_their_keys_only() -> None:
    state = finished_state(done=2, pending=1)
    result = state.apply({"op": "gc", "epoch": 1, "task_ids": ["t0", "t2", "nope"]})
    assert result == {"ok": True, "pruned": 1}
    assert list(state.tasks) == ["t1", "t2"]
    assert state.keys == {"k1": "t1", "k2": "t2"}
    assert list(state.pending) == ["t2"]


def test_gc_is_fenced_and_validated() -> None:
    state = finished_state(done=1, pending=0)
    stale = state.apply({"op": "gc", "epoch": 0, "task_ids": ["t0"]})
    assert stale == {"ok": False, "reason": "stale epoch", "epoch": 1}
    malformed = state.apply({"op": "gc", "epoch": 1, "task_ids": "t0"})
    assert malformed == {
        "ok": False,
        "reason": "malformed command",
        "detail": "gc needs task_ids",
    }
    assert list(state.tasks) == ["t0"]


def test_a_pruned_key_can_be_used_again() -> None:
    state = finished_state(done=1, pending=0)
    state.apply({"op": "gc", "epoch": 1, "task_ids": ["t0"]})
    again = state.apply(
        {
            "op": "submit",
            "task_id": "t9",
            "now": 3.0,
            "spec": {"command": "true", "idempotency_key": "k0"},
        }
    )
    assert again == {"ok": True, "task_id": "t9", "existed": False}
