"""Property tests: the state machine against a plain reference model.

Hypothesis drives ``ClusterState.apply`` with random interleavings of
well-formed commands, some of them stale (old epochs, old incarnations, wrong
attempt numbers, results from attempts that already ended). A reference model
written from DESIGN.md ("Replicated state machine", "Task lifecycle") predicts
every result exactly, and invariants over the real state are checked after
every step. A second replica applies the same commands and must stay equal.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from titan_ha.manager.state import ClusterState
from titan_ha.models import MAX_WORKER_LOST, Outcome, TaskState, WorkerState

# Outcomes that spend max_retries (DESIGN.md, "Task lifecycle").
COMMAND_FAILURES = frozenset(
    {Outcome.FAILED, Outcome.TIMED_OUT, Outcome.OOM_KILLED, Outcome.ERROR}
)
OUTCOMES = tuple(o.value for o in Outcome)
WORKERS = ("w1", "w2", "w3")
LEADERS = ("m1", "m2", "m3")
KEYS = ("k1", "k2", "k3")

picks = st.integers(min_value=0, max_value=1 << 16)
# Mostly the current epoch; sometimes a deposed leader's, sometimes a future one.
epoch_deltas = st.sampled_from((0, 0, 0, 0, 0, 0, -1, 1))
# Mostly right; one time in ten something stale or wrong.
rarely = st.integers(min_value=0, max_value=9).map(lambda n: n == 0)


def choose(items: list[Any], pick: int) -> Any:
    return items[pick % len(items)]


def frozen(state: ClusterState, counters: bool = False) -> dict[str, Any]:
    """A deep copy of the snapshot, by default without the counters."""
    snapshot: dict[str, Any] = pickle.loads(pickle.dumps(state.to_snapshot()))
    if not counters:
        del snapshot["applied"], snapshot["rejections"]
    return snapshot


# The reference model.


@dataclass
class ModelAttempt:
    worker_id: str
    incarnation: str
    started_at: float
    outcome: str = ""
    exit_code: int | None = None
    finished_at: float = 0.0


@dataclass
class ModelTask:
    max_retries: int
    state: TaskState = TaskState.PENDING
    attempts: list[ModelAttempt] = field(default_factory=list)
    finished_at: float = 0.0

    def open_attempt(self) -> int | None:
        for number, attempt in enumerate(self.attempts, start=1):
            if not attempt.outcome:
                return number
        return None


@dataclass
class ModelWorker:
    incarnation: str
    registered_at: float
    dead: bool = False
    draining: bool = False
    running: dict[str, int] = field(default_factory=dict)


class Model:
    """What the design says the state should be, in the plainest terms."""

    def __init__(self) -> None:
        self.epoch = 0
        self.leader = ""
        self.tasks: dict[str, ModelTask] = {}
        self.pending: list[str] = []
        self.keys: dict[str, str] = {}
        self.workers: dict[str, ModelWorker] = {}
        self.rejections: dict[str, int] = {}
        self.applied = 0

    def reject(self, reason: str, **details: Any) -> dict[str, Any]:
        self.rejections[reason] = self.rejections.get(reason, 0) + 1
        return {"ok": False, "reason": reason, **details}

    def fence(self, epoch: int) -> dict[str, Any] | None:
        if epoch != self.epoch:
            return self.reject("stale epoch", epoch=self.epoch)
        return None

    def new_epoch(self, term: int, leader: str) -> dict[str, Any]:
        if term < self.epoch or (term == self.epoch and leader != self.leader):
            return self.reject("stale epoch", epoch=self.epoch)
        self.epoch, self.leader = term, leader
        return {"ok": True, "epoch": term}

    def submit(
        self, task_id: str, valid: bool, key: str, max_retries: int
    ) -> dict[str, Any]:
        if not valid:
            return self.reject(
                "invalid spec", detail="command must be a non-empty string"
            )
        if key and key in self.keys:
            return {"ok": True, "task_id": self.keys[key], "existed": True}
        if task_id in self.tasks:
            return self.reject("task id missing or taken", task_id=task_id)
        self.tasks[task_id] = ModelTask(max_retries)
        self.pending.append(task_id)
        if key:
            self.keys[key] = task_id
        return {"ok": True, "task_id": task_id, "existed": False}

    def register(
        self, epoch: int, worker_id: str, incarnation: str, now: float
    ) -> dict[str, Any]:
        if stale := self.fence(epoch):
            return stale
        worker = self.workers.get(worker_id)
        if worker is None:
            self.workers[worker_id] = ModelWorker(incarnation, now)
            return {"ok": True, "lost": []}
        lost: list[str] = []
        if worker.incarnation != incarnation:
            lost = self._lose(worker, now)
            worker.incarnation, worker.registered_at = incarnation, now
            worker.draining = False
        worker.dead = False
        return {"ok": True, "lost": lost}

    def assign(
        self,
        epoch: int,
        task_id: str,
        attempt: int,
        worker_id: str,
        incarnation: str,
        now: float,
    ) -> dict[str, Any]:
        if stale := self.fence(epoch):
            return stale
        task = self.tasks.get(task_id)
        worker = self.workers.get(worker_id)
        if task is None or task.state != TaskState.PENDING:
            return self.reject("task not pending")
        if worker is None or worker.dead or worker.draining:
            return self.reject("worker cannot take work")
        if worker.incarnation != incarnation:
            return self.reject("stale incarnation")
        expected = len(task.attempts) + 1
        if attempt != expected:
            return self.reject("wrong attempt number", expected=expected)
        task.attempts.append(ModelAttempt(worker_id, incarnation, now))
        task.state = TaskState.RUNNING
        self.pending.remove(task_id)
        worker.running[task_id] = expected
        return {"ok": True, "attempt": expected}

    def complete(
        self,
        epoch: int,
        task_id: str,
        number: int,
        worker_id: str,
        incarnation: str,
        outcome: str,
        exit_code: int,
        now: float,
    ) -> dict[str, Any]:
        if stale := self.fence(epoch):
            return stale
        task = self.tasks.get(task_id)
        if task is None:
            return self.reject("unknown task")
        if not 1 <= number <= len(task.attempts):
            return self.reject("unknown attempt")
        attempt = task.attempts[number - 1]
        if (attempt.worker_id, attempt.incarnation) != (worker_id, incarnation):
            return self.reject("attempt belongs to another worker")
        if outcome not in OUTCOMES:
            return self.reject("unknown outcome")
        if attempt.outcome:
            if attempt.outcome == outcome:
                return {"ok": True, "duplicate": True, "task_state": task.state}
            return self.reject("attempt already ended", outcome=attempt.outcome)
        attempt.outcome, attempt.exit_code = outcome, exit_code
        attempt.finished_at = now
        worker = self.workers[worker_id]
        if worker.running.get(task_id) == number:
            del worker.running[task_id]
        self._settle(task_id, now)
        return {"ok": True, "task_state": task.state}

    def reap(
        self, epoch: int, worker_id: str, incarnation: str, now: float
    ) -> dict[str, Any]:
        if stale := self.fence(epoch):
            return stale
        worker = self.workers.get(worker_id)
        if worker is None or worker.dead:
            return self.reject("worker unknown or already dead")
        if worker.incarnation != incarnation:
            return self.reject("stale incarnation")
        worker.dead = True
        return {"ok": True, "lost": self._lose(worker, now)}

    def drain(self, epoch: int, worker_id: str, draining: bool) -> dict[str, Any]:
        if stale := self.fence(epoch):
            return stale
        worker = self.workers.get(worker_id)
        if worker is None:
            return self.reject("unknown worker")
        worker.draining = draining
        if worker.dead:
            shown = WorkerState.DEAD
        elif draining:
            shown = WorkerState.DRAINING
        else:
            shown = WorkerState.BUSY if worker.running else WorkerState.IDLE
        return {"ok": True, "state": shown}

    def cancel(self, task_id: str, now: float) -> dict[str, Any]:
        task = self.tasks.get(task_id)
        if task is None:
            return self.reject("unknown task")
        if task.state.is_final:
            return {"ok": True, "task_state": task.state}
        if task_id in self.pending:
            self.pending.remove(task_id)
        # A running attempt stays open until its worker reports or is lost.
        task.state = TaskState.CANCELLED
        task.finished_at = now
        return {"ok": True, "task_state": task.state}

    def _lose(self, worker: ModelWorker, now: float) -> list[str]:
        lost = list(worker.running)
        for task_id, number in worker.running.items():
            attempt = self.tasks[task_id].attempts[number - 1]
            attempt.outcome, attempt.finished_at = Outcome.WORKER_LOST, now
            self._settle(task_id, now)
        worker.running = {}
        return lost

    def _settle(self, task_id: str, now: float) -> None:
        task = self.tasks[task_id]
        if task.state == TaskState.CANCELLED:
            return
        last = task.attempts[-1].outcome
        outcomes = [a.outcome for a in task.attempts]
        if last == Outcome.SUCCEEDED:
            final: TaskState | None = TaskState.SUCCEEDED
        elif last == Outcome.CANCELLED:
            final = TaskState.CANCELLED
        elif last == Outcome.WORKER_LOST:
            lost = outcomes.count(Outcome.WORKER_LOST)
            final = TaskState.FAILED if lost >= MAX_WORKER_LOST else None
        else:
            failures = sum(1 for o in outcomes if o in COMMAND_FAILURES)
            final = TaskState.FAILED if failures > task.max_retries else None
        if final is None:
            task.state = TaskState.PENDING
            self.pending.append(task_id)
        else:
            task.state, task.finished_at = final, now

    def view(self) -> dict[str, Any]:
        return {
            "epoch": (self.epoch, self.leader),
            "tasks": {
                task_id: (
                    task.state,
                    task.max_retries,
                    task.finished_at,
                    [
                        (
                            n,
                            a.worker_id,
                            a.incarnation,
                            a.outcome,
                            a.exit_code,
                            a.started_at,
                            a.finished_at,
                        )
                        for n, a in enumerate(task.attempts, start=1)
                    ],
                )
                for task_id, task in self.tasks.items()
            },
            "pending": self.pending,
            "keys": self.keys,
            "workers": {
                worker_id: (
                    w.incarnation,
                    w.registered_at,
                    w.dead,
                    w.draining,
                    w.running,
                )
                for worker_id, w in self.workers.items()
            },
            "rejections": self.rejections,
            "applied": self.applied,
        }


def view_of(state: ClusterState) -> dict[str, Any]:
    """The real state in the model's terms."""
    return {
        "epoch": (state.epoch, state.epoch_leader),
        "tasks": {
            task_id: (
                task.state,
                task.spec.max_retries,
                task.finished_at,
                [
                    (
                        a.number,
                        a.worker_id,
                        a.incarnation,
                        a.outcome,
                        a.exit_code,
                        a.started_at,
                        a.finished_at,
                    )
                    for a in task.attempts
                ],
            )
            for task_id, task in state.tasks.items()
        },
        "pending": list(state.pending),
        "keys": state.keys,
        "workers": {
            worker_id: (
                w.incarnation,
                w.registered_at,
                w.dead,
                w.draining,
                w.running,
            )
            for worker_id, w in state.workers.items()
        },
        "rejections": state.rejections,
        "applied": state.applied,
    }


class ClusterStateMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = ClusterState()
        self.replica = ClusterState()
        self.model = Model()
        self.clock = 0.0
        self.minted = 0  # task ids and incarnations proposed so far
        self.accepted: list[str] = []  # task ids in submission order
        self.final: dict[str, TaskState] = {}

    def mint(self, prefix: str) -> str:
        self.minted += 1
        return f"{prefix}{self.minted}"

    def tick(self) -> float:
        self.clock += 1.0
        return self.clock

    def run(self, command: dict[str, Any], expected: dict[str, Any]) -> None:
        """Applies to both replicas; checks the exact result and rejections."""
        before = frozen(self.state)
        self.model.applied += 1

        result = self.state.apply(command)

        assert result == expected, command
        event(f"{command['op']}: {result.get('reason', 'ok')}")
        assert self.replica.apply(command) == result
        if not result["ok"]:
            assert frozen(self.state) == before, command

    def live_workers(self) -> list[str]:
        return [w for w, rec in self.model.workers.items() if not rec.dead]

    def available_workers(self) -> list[str]:
        return [
            w
            for w, rec in self.model.workers.items()
            if not rec.dead and not rec.draining
        ]

    # Each helper proposes one command and checks it against the model.

    def send_submit(
        self, task_id: str, valid: bool, key: str, max_retries: int
    ) -> None:
        command = {
            "op": "submit",
            "task_id": task_id,
            "spec": {
                "command": "run.sh" if valid else " ",
                "timeout_s": 5.0,
                "max_retries": max_retries,
                "idempotency_key": key,
            },
            "now": self.tick(),
        }
        expected = self.model.submit(task_id, valid, key, max_retries)
        self.run(command, expected)
        if expected == {"ok": True, "task_id": task_id, "existed": False}:
            self.accepted.append(task_id)

    def send_register(self, worker_id: str, incarnation: str, epoch: int) -> None:
        now = self.tick()
        command = {
            "op": "register_worker",
            "epoch": epoch,
            "worker_id": worker_id,
            "incarnation": incarnation,
            "now": now,
        }
        self.run(command, self.model.register(epoch, worker_id, incarnation, now))

    def send_assign(
        self,
        epoch: int,
        task_id: str,
        attempt: int,
        worker_id: str,
        incarnation: str,
    ) -> None:
        now = self.tick()
        command = {
            "op": "assign",
            "epoch": epoch,
            "task_id": task_id,
            "attempt": attempt,
            "worker_id": worker_id,
            "incarnation": incarnation,
            "now": now,
        }
        expected = self.model.assign(
            epoch, task_id, attempt, worker_id, incarnation, now
        )
        self.run(command, expected)

    def send_complete(
        self,
        epoch: int,
        task_id: str,
        attempt: int,
        worker: tuple[str, str],
        outcome: str,
        exit_code: int,
    ) -> None:
        worker_id, incarnation = worker
        now = self.tick()
        command = {
            "op": "complete",
            "epoch": epoch,
            "task_id": task_id,
            "attempt": attempt,
            "worker_id": worker_id,
            "incarnation": incarnation,
            "outcome": outcome,
            "exit_code": exit_code,
            "signal": "",
            "stdout": f"out {task_id}/{attempt}",
            "stderr": "",
            "stdout_chunks": 0,
            "stderr_chunks": 0,
            "now": now,
        }
        expected = self.model.complete(
            epoch, task_id, attempt, worker_id, incarnation, outcome, exit_code, now
        )
        self.run(command, expected)

    def send_reap(self, epoch: int, worker_id: str, incarnation: str) -> None:
        now = self.tick()
        command = {
            "op": "reap",
            "epoch": epoch,
            "worker_id": worker_id,
            "incarnation": incarnation,
            "now": now,
        }
        self.run(command, self.model.reap(epoch, worker_id, incarnation, now))

    # Rules.

    @initialize()
    def first_leader_workers_and_tasks(self) -> None:
        self.run(
            {"op": "new_epoch", "term": 1, "leader": "m1"},
            self.model.new_epoch(1, "m1"),
        )
        for worker_id in WORKERS[:2]:
            self.send_register(worker_id, self.mint("inc"), epoch=1)
        for max_retries in (0, 2):
            self.send_submit(self.mint("t"), True, "", max_retries)

    @rule(delta=st.sampled_from((-1, 0, 1, 1, 2)), leader=st.sampled_from(LEADERS))
    def new_epoch(self, delta: int, leader: str) -> None:
        term = self.model.epoch + delta
        command = {"op": "new_epoch", "term": term, "leader": leader}
        self.run(command, self.model.new_epoch(term, leader))

    @rule(
        reuse_id=rarely,
        valid=st.integers(0, 19).map(bool),
        key=st.sampled_from(("", "", *KEYS)),
        max_retries=st.integers(0, 2),
        pick=picks,
    )
    def submit(
        self, reuse_id: bool, valid: bool, key: str, max_retries: int, pick: int
    ) -> None:
        task_id = choose(self.accepted, pick) if reuse_id else self.mint("t")
        self.send_submit(task_id, valid, key, max_retries)

    @rule(
        worker_id=st.sampled_from(WORKERS),
        restart=st.booleans(),
        delta=epoch_deltas,
    )
    def register_worker(self, worker_id: str, restart: bool, delta: int) -> None:
        known = self.model.workers.get(worker_id)
        if known is None or restart:
            incarnation = self.mint("inc")
        else:
            incarnation = known.incarnation
        self.send_register(worker_id, incarnation, self.model.epoch + delta)

    @rule(
        task_pick=picks,
        any_task=rarely,
        worker_pick=picks,
        any_worker=rarely,
        stale_incarnation=rarely,
        attempt_delta=st.sampled_from((0, 0, 0, 0, 0, 0, -1, 1)),
        delta=epoch_deltas,
    )
    def assign(
        self,
        task_pick: int,
        any_task: bool,
        worker_pick: int,
        any_worker: bool,
        stale_incarnation: bool,
        attempt_delta: int,
        delta: int,
    ) -> None:
        pending = self.model.pending
        task_id = choose(
            pending if pending and not any_task else self.accepted, task_pick
        )
        available = self.available_workers()
        worker_id = choose(
            available if available and not any_worker else list(self.model.workers),
            worker_pick,
        )
        incarnation = self.model.workers[worker_id].incarnation
        if stale_incarnation:
            incarnation = "inc0"
        attempt = len(self.model.tasks[task_id].attempts) + 1 + attempt_delta
        self.send_assign(
            self.model.epoch + delta, task_id, attempt, worker_id, incarnation
        )

    @precondition(lambda self: any(t.attempts for t in self.model.tasks.values()))
    @rule(
        task_pick=picks,
        older=rarely,
        attempt_pick=picks,
        stranger=rarely,
        outcome=st.sampled_from((*OUTCOMES, "SUCCEEDED", "FAILED", "BOGUS")),
        exit_code=st.integers(0, 255),
        delta=epoch_deltas,
    )
    def complete(
        self,
        task_pick: int,
        older: bool,
        attempt_pick: int,
        stranger: bool,
        outcome: str,
        exit_code: int,
        delta: int,
    ) -> None:
        running = [t for t, rec in self.model.tasks.items() if rec.open_attempt()]
        started = [t for t, rec in self.model.tasks.items() if rec.attempts]
        task_id = choose(running if running and not older else started, task_pick)
        task = self.model.tasks[task_id]
        number = task.open_attempt()
        if number is None or older:
            # Any attempt, or one past the last (unknown).
            number = attempt_pick % (len(task.attempts) + 1) + 1
        owner = task.attempts[min(number, len(task.attempts)) - 1]
        worker = (owner.worker_id, owner.incarnation)
        if stranger:
            others = [w for w in WORKERS if w != owner.worker_id]
            worker = (choose(others, attempt_pick), owner.incarnation)
        self.send_complete(
            self.model.epoch + delta, task_id, number, worker, outcome, exit_code
        )

    @precondition(lambda self: self.model.pending and self.available_workers())
    @rule(
        task_pick=picks,
        worker_pick=picks,
        outcomes=st.lists(
            st.sampled_from(("SUCCEEDED", *COMMAND_FAILURES, "WORKER_LOST", "LOST")),
            min_size=1,
            max_size=3,
        ),
    )
    def run_attempts(
        self, task_pick: int, worker_pick: int, outcomes: list[str]
    ) -> None:
        """The common path: up to three attempts of one task, back to back.

        Each attempt is a correct assign followed by the attempt's end: the
        worker reports ``outcome``, or for "LOST" dies and is reaped.
        """
        task_id = choose(self.model.pending, task_pick)
        for outcome in outcomes:
            available = self.available_workers()
            if task_id not in self.model.pending or not available:
                return
            worker_id = choose(available, worker_pick)
            incarnation = self.model.workers[worker_id].incarnation
            number = len(self.model.tasks[task_id].attempts) + 1
            epoch = self.model.epoch
            self.send_assign(epoch, task_id, number, worker_id, incarnation)
            if outcome == "LOST":
                self.send_reap(epoch, worker_id, incarnation)
                # The worker comes back as a new process.
                self.send_register(worker_id, self.mint("inc"), epoch)
            else:
                exit_code = 0 if outcome == "SUCCEEDED" else 3
                worker = (worker_id, incarnation)
                self.send_complete(epoch, task_id, number, worker, outcome, exit_code)

    @rule(
        worker_pick=picks,
        any_worker=rarely,
        stale_incarnation=rarely,
        delta=epoch_deltas,
    )
    def reap(
        self, worker_pick: int, any_worker: bool, stale_incarnation: bool, delta: int
    ) -> None:
        live = self.live_workers()
        worker_id = choose(
            live if live and not any_worker else list(self.model.workers),
            worker_pick,
        )
        incarnation = self.model.workers[worker_id].incarnation
        if stale_incarnation:
            incarnation = "inc0"
        self.send_reap(self.model.epoch + delta, worker_id, incarnation)

    @rule(task_pick=picks, ghost=rarely)
    def cancel(self, task_pick: int, ghost: bool) -> None:
        task_id = "ghost" if ghost else choose(self.accepted, task_pick)
        now = self.tick()
        command = {"op": "cancel", "task_id": task_id, "now": now}
        self.run(command, self.model.cancel(task_id, now))

    @rule(
        worker_id=st.sampled_from(WORKERS),
        draining=st.integers(0, 3).map(lambda n: n == 0),
        delta=epoch_deltas,
    )
    def drain(self, worker_id: str, draining: bool, delta: int) -> None:
        epoch = self.model.epoch + delta
        command = {
            "op": "drain",
            "epoch": epoch,
            "worker_id": worker_id,
            "draining": draining,
        }
        self.run(command, self.model.drain(epoch, worker_id, draining))

    @rule(install_snapshot=st.booleans())
    def barrier_or_snapshot(self, install_snapshot: bool) -> None:
        if install_snapshot:
            # The replica catches up from a pickled snapshot, as a lagging
            # follower does, then keeps applying the log like everyone else.
            snapshot = pickle.loads(pickle.dumps(self.state.to_snapshot()))
            self.replica.restore(snapshot)
        else:
            # The barrier reports the applied count including itself.
            expected = {"ok": True, "applied": self.model.applied + 1}
            self.run({"op": "barrier"}, expected)

    # Invariants, checked on the real state after every step.

    @invariant()
    def matches_the_model(self) -> None:
        assert view_of(self.state) == self.model.view()

    @invariant()
    def replicas_agree(self) -> None:
        assert frozen(self.replica, counters=True) == frozen(self.state, counters=True)

    @invariant()
    def no_task_is_lost(self) -> None:
        state = self.state
        assert list(state.tasks) == self.accepted
        assert [t.seq for t in state.tasks.values()] == list(
            range(1, len(self.accepted) + 1)
        )
        waiting = [t for t, rec in state.tasks.items() if rec.state == "PENDING"]
        assert sorted(state.pending) == sorted(waiting)
        assert all(key_owner in state.tasks for key_owner in state.keys.values())

    @invariant()
    def attempts_are_numbered_one_to_n(self) -> None:
        for task in self.state.tasks.values():
            numbers = [a.number for a in task.attempts]
            assert numbers == list(range(1, len(numbers) + 1))

    @invariant()
    def open_attempts_belong_to_their_worker(self) -> None:
        listed = {
            (task_id, worker.id, worker.incarnation, number)
            for worker in self.state.workers.values()
            for task_id, number in worker.running.items()
        }
        expected = set()
        for task in self.state.tasks.values():
            open_ = [a for a in task.attempts if a.is_open]
            assert len(open_) <= 1
            if task.state == TaskState.RUNNING:
                assert len(open_) == 1
            if open_:
                # NOTE: a task cancelled while running keeps its attempt open
                # until the worker reports or is lost.
                assert task.state in (TaskState.RUNNING, TaskState.CANCELLED)
                attempt = open_[0]
                assert attempt is task.attempts[-1]
                expected.add(
                    (task.id, attempt.worker_id, attempt.incarnation, attempt.number)
                )
        assert listed == expected

    @invariant()
    def dead_workers_run_nothing(self) -> None:
        for worker in self.state.workers.values():
            if worker.dead:
                assert worker.running == {}
                assert worker.state == WorkerState.DEAD

    @invariant()
    def final_tasks_never_change_state(self) -> None:
        for task_id, state in self.final.items():
            assert self.state.tasks[task_id].state == state
        for task in self.state.tasks.values():
            if task.state.is_final:
                self.final.setdefault(task.id, task.state)
                assert task.id not in self.state.pending

    @invariant()
    def retry_budgets_hold(self) -> None:
        for task in self.state.tasks.values():
            failures = task.count_outcomes(*COMMAND_FAILURES)
            assert failures <= task.spec.max_retries + 1
            assert task.count_outcomes(Outcome.WORKER_LOST) <= MAX_WORKER_LOST
            if task.state == TaskState.PENDING:
                assert failures <= task.spec.max_retries
                assert task.count_outcomes(Outcome.WORKER_LOST) < MAX_WORKER_LOST


ClusterStateMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestClusterStateMachine = ClusterStateMachine.TestCase


# Whatever a buggy or hostile proposer puts into a dict, apply answers with a
# result and every replica ends in the same state.

field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(("", "t1", "w1", "i1", "m1", "SUCCEEDED", "stdout", "x")),
    st.lists(st.integers(0, 2), max_size=2),
    st.dictionaries(st.sampled_from(("command", "max_retries")), st.integers(-1, 2)),
)
garbage_commands = st.fixed_dictionaries(
    {
        "op": st.sampled_from(
            (
                "new_epoch",
                "submit",
                "register_worker",
                "assign",
                "output",
                "complete",
                "reap",
                "drain",
                "cancel",
                "barrier",
                "gc",
                "worker_seen",
            )
        )
    },
    optional=dict.fromkeys(
        (
            "v",
            "epoch",
            "term",
            "leader",
            "task_id",
            "spec",
            "worker_id",
            "incarnation",
            "attempt",
            "outcome",
            "exit_code",
            "stream",
            "index",
            "data",
            "stdout",
            "stdout_chunks",
            "stdout_bytes",
            "now",
            "finished_at",
        ),
        field_values,
    ),
)


def seeded() -> ClusterState:
    state = ClusterState()
    for command in (
        {"op": "new_epoch", "term": 1, "leader": "m1"},
        {
            "op": "register_worker",
            "epoch": 1,
            "worker_id": "w1",
            "incarnation": "i1",
            "now": 1.0,
        },
        {"op": "submit", "task_id": "t1", "spec": {"command": "x"}, "now": 2.0},
        {
            "op": "assign",
            "epoch": 1,
            "task_id": "t1",
            "attempt": 1,
            "worker_id": "w1",
            "incarnation": "i1",
            "now": 3.0,
        },
    ):
        assert state.apply(command)["ok"] is True
    return state


def same_results(left: Any, right: Any) -> bool:
    # A NaN taken from a command is unequal to itself: compare the reprs.
    return repr(left) == repr(right)


@settings(max_examples=300, deadline=None)
@given(st.lists(garbage_commands, max_size=12))
def test_apply_never_raises_and_stays_deterministic(
    commands: list[dict[str, Any]],
) -> None:
    left, right = seeded(), seeded()

    for command in commands:
        result = left.apply(command)
        assert isinstance(result, dict)
        assert isinstance(result.get("ok"), bool)
        assert same_results(result, right.apply(command))

    assert same_results(frozen(left, counters=True), frozen(right, counters=True)), (
        commands
    )
