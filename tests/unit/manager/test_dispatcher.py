"""The dispatcher's Pulse answers, against a state machine applied in place."""

from __future__ import annotations

from typing import Any

from titan_ha._proto import titan_pb2 as pb
from titan_ha.manager.dispatcher import Dispatcher
from titan_ha.manager.liveness import Liveness
from titan_ha.manager.state import ClusterState


def leading(term: int) -> tuple[ClusterState, Dispatcher]:
    state = ClusterState()
    state.apply({"op": "new_epoch", "term": term, "leader": "m1"})
    dispatcher = Dispatcher(
        state, Liveness(), lease_s=2.0, pulse_interval_s=0.5, dead_after_s=3.0
    )
    dispatcher.activate(
        state.epoch, state.apply, lambda commands: [state.apply(c) for c in commands]
    )
    return state, dispatcher


def pulse(dispatcher: Dispatcher, incarnation: str = "i1") -> pb.PulseReply:
    return dispatcher.pulse(
        pb.PulseRequest(worker_id="w1", incarnation=incarnation, free_slots=0)
    )


def reap(state: ClusterState, incarnation: str = "i1") -> dict[str, Any]:
    result: dict[str, Any] = state.apply(
        {
            "op": "reap",
            "epoch": state.epoch,
            "worker_id": "w1",
            "incarnation": incarnation,
            "now": 10.0,
        }
    )
    return result


def test_the_pulse_after_a_reap_and_only_it_says_the_worker_rejoined() -> None:
    state, dispatcher = leading(term=4)
    first = pulse(dispatcher)
    assert (first.epoch, first.rejoined) == (4, False)
    assert (pulse(dispatcher).epoch, pulse(dispatcher).rejoined) == (4, False)

    assert reap(state) == {"ok": True, "lost": []}
    assert state.workers["w1"].dead is True
    back = pulse(dispatcher)
    assert (back.epoch, back.rejoined, back.reaped_by_epoch) == (4, True, 4)
    assert 0.0 < back.leader_for_s < 5.0
    assert back.leader_for_s > first.leader_for_s
    assert state.workers["w1"].dead is False
    assert pulse(dispatcher).rejoined is False


def test_a_new_incarnation_after_a_reap_is_a_new_worker_not_a_rejoin() -> None:
    state, dispatcher = leading(term=2)
    pulse(dispatcher, incarnation="i1")
    reap(state, incarnation="i1")

    restarted = pulse(dispatcher, incarnation="i2")
    assert (restarted.epoch, restarted.rejoined) == (2, False)
    assert restarted.reaped_by_epoch == -1
    assert state.workers["w1"].incarnation == "i2"
