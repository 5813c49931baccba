"""The worker agent against a fake leader and a fake executor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from titan_ha._proto import titan_pb2 as pb
from titan_ha.errors import Unreachable
from titan_ha.models import Outcome
from titan_ha.worker.agent import WorkerAgent
from titan_ha.worker.executors.base import AttemptResult, AttemptSpec
from titan_ha.worker.output import EMPTY_OUTPUT
from titan_ha.worker.settings import AgentSettings

LEASE_S = 0.4
Answer = Callable[[pb.PulseRequest], "pb.PulseReply | None"]


def assignment(task_id: str) -> pb.Assignment:
    return pb.Assignment(
        task_id=task_id, attempt=1, spec=pb.TaskSpec(command="true"), lease_s=LEASE_S
    )


def reply(*assignments: pb.Assignment) -> pb.PulseReply:
    return pb.PulseReply(
        assignments=assignments, pulse_interval_s=0.05, lease_s=LEASE_S
    )


class FakeLeader:
    """Answers each Pulse with ``answer(request)``; None hangs like a paused leader.

    A hanging Pulse fails once the leader is resumed or its deadline passes.
    Results are always accepted.
    """

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self.pulses: list[pb.PulseRequest] = []
        self.reports: list[pb.ReportRequest] = []
        self.reported = threading.Event()
        self.resumed = threading.Event()

    def call(
        self,
        method: str,
        request: Any,
        *,
        deadline_s: float,
        per_call_timeout_s: float | None = None,
    ) -> Any:
        if method == "ReportResult":
            self.reports.append(request)
            self.reported.set()
            return pb.ReportReply(accepted=True, task_state="PENDING")
        self.pulses.append(request)
        answer = self._answer(request)
        if answer is None:
            self.resumed.wait(deadline_s)
            raise Unreachable("leader paused")
        return answer


def first_then(first: pb.PulseReply, then: pb.PulseReply | None) -> Answer:
    """Answers the first Pulse with ``first`` and every later one with ``then``."""
    answers = [first]

    def answer(request: pb.PulseRequest) -> pb.PulseReply | None:
        return answers.pop() if answers else then

    return answer


class FakeExecutor:
    """Runs until stopped (CANCELLED), or for ``run_s`` and then succeeds."""

    def __init__(self, run_s: float | None = None) -> None:
        self._run_s = run_s
        self.started = threading.Event()
        self.stopped_at: float | None = None

    def run(self, spec: AttemptSpec, stop: threading.Event) -> AttemptResult:
        started_at = time.time()
        self.started.set()
        if self._run_s is not None:
            time.sleep(self._run_s)  # a command that ignores the stop
            outcome = Outcome.SUCCEEDED
        else:
            stop.wait()
            self.stopped_at = time.monotonic()
            outcome = Outcome.CANCELLED
        return AttemptResult(
            outcome, 0, None, EMPTY_OUTPUT, EMPTY_OUTPUT, started_at, time.time()
        )


@pytest.fixture
def start_agent() -> Iterator[Callable[..., WorkerAgent]]:
    agents: list[tuple[WorkerAgent, FakeLeader]] = []

    def start(
        leader: FakeLeader, executor: FakeExecutor, **settings: Any
    ) -> WorkerAgent:
        agent = WorkerAgent(
            AgentSettings("worker-01", **settings),
            leader,  # type: ignore[arg-type]
            executor,
        )
        agents.append((agent, leader))
        agent.start()
        return agent

    yield start
    for agent, leader in agents:
        leader.resumed.set()
        agent.drain()


def test_attempt_stops_within_the_lease_while_a_pulse_hangs(
    start_agent: Callable[..., WorkerAgent],
) -> None:
    # One answered Pulse hands out the attempt; every later one hangs for
    # longer than the lease, like a Pulse to a paused leader.
    leader = FakeLeader(first_then(reply(assignment("t1")), None))
    executor = FakeExecutor()
    start_agent(leader, executor)
    assert executor.started.wait(2)
    contact = time.monotonic()

    assert leader.reported.wait(LEASE_S + 2)
    assert executor.stopped_at is not None
    assert executor.stopped_at - contact <= LEASE_S + 0.2
    assert [r.outcome for r in leader.reports] == ["WORKER_LOST"]


def test_attempt_that_ends_on_its_own_keeps_its_outcome(
    start_agent: Callable[..., WorkerAgent],
) -> None:
    # The lease expires while the command runs, but it finishes by itself.
    leader = FakeLeader(first_then(reply(assignment("t1")), None))
    start_agent(leader, FakeExecutor(run_s=LEASE_S * 2))

    assert leader.reported.wait(LEASE_S * 2 + 2)
    assert [r.outcome for r in leader.reports] == ["SUCCEEDED"]


def test_drain_grace_over_reports_the_attempt_lost_not_cancelled(
    start_agent: Callable[..., WorkerAgent],
) -> None:
    leader = FakeLeader(first_then(reply(assignment("t1")), reply()))
    executor = FakeExecutor()
    agent = start_agent(leader, executor, drain_grace_s=0.2)
    assert executor.started.wait(2)

    agent.drain()

    assert [r.outcome for r in leader.reports] == ["WORKER_LOST"]
    assert leader.pulses[-1].draining
    assert leader.pulses[-1].free_slots == 0


def test_drain_is_announced_at_once_and_runs_what_was_already_assigned(
    start_agent: Callable[..., WorkerAgent],
) -> None:
    # The idle worker's Pulse is held; the leader assigns t1 to it just after
    # the drain began, before it heard of the drain.
    release = threading.Event()

    def answer(request: pb.PulseRequest) -> pb.PulseReply:
        if request.draining:
            return reply()
        if release.wait(5):
            return reply(assignment("t1"))
        return reply()

    leader = FakeLeader(answer)
    executor = FakeExecutor(run_s=0.2)
    agent = start_agent(leader, executor, drain_grace_s=5.0)
    deadline = time.monotonic() + 2
    while not leader.pulses:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    draining = threading.Thread(target=agent.drain)
    draining.start()
    deadline = time.monotonic() + 2
    while not [p for p in leader.pulses if p.draining]:
        assert time.monotonic() < deadline, "drain not announced"
        time.sleep(0.01)
    release.set()
    draining.join(10)

    assert not draining.is_alive()
    announced = next(p for p in leader.pulses if p.draining)
    assert (announced.free_slots, announced.wait_s) == (0, 0.0)
    assert executor.started.is_set()
    assert [(r.task_id, r.outcome) for r in leader.reports] == [("t1", "SUCCEEDED")]


def test_pulse_is_held_for_a_quarter_of_the_lease_at_most(
    start_agent: Callable[..., WorkerAgent],
) -> None:
    leader = FakeLeader(first_then(reply(assignment("t1")), reply()))
    start_agent(leader, FakeExecutor(), concurrency=2, drain_grace_s=0)
    deadline = time.monotonic() + 2
    while not [p for p in leader.pulses if p.running]:
        assert time.monotonic() < deadline
        time.sleep(0.01)

    idle = leader.pulses[0]
    busy = next(p for p in leader.pulses if p.running)
    # An answer held longer could arrive after the lease it starts from; the
    # first Pulse goes out before any leader has said what the lease is.
    assert (idle.free_slots, idle.wait_s) == (2, 1.0)
    assert (busy.free_slots, busy.wait_s) == (1, min(2.0, LEASE_S / 4))


def test_a_rejoin_is_logged_with_the_epochs_and_age_of_the_answers_before_it(
    start_agent: Callable[..., WorkerAgent], caplog: pytest.LogCaptureFixture
) -> None:
    # Epoch 6 answers first, then epoch 7 twice; its next answer says it had
    # declared this worker dead, a fraction of a second after the earlier one.
    epochs = iter([6, 7, 7])
    rejoined = threading.Event()

    def answer(request: pb.PulseRequest) -> pb.PulseReply:
        answered = reply()
        answered.epoch = next(epochs, 7)
        if answered.epoch == 7 and len(leader.pulses) == 4:
            answered.rejoined = True
            answered.reaped_by_epoch = 7
            answered.leader_for_s = 12.5
            rejoined.set()
        return answered

    leader = FakeLeader(answer)
    with caplog.at_level("WARNING", logger="titan_ha.worker"):
        start_agent(leader, FakeExecutor())
        assert rejoined.wait(5)
        time.sleep(0.05)

    lines = [r.getMessage() for r in caplog.records if "declared dead" in r.message]
    assert len(lines) == 1
    head, since = lines[0].rsplit("=", 1)
    assert head == (
        "declared dead by the leader, joined again epoch=7 reaped_by_epoch=7 "
        "leader_for_s=12.500 last_answer_epochs=7,7 since_answer_before_last_s"
    )
    assert 0.0 < float(since) < 1.0
