"""The records held in the replicated state.

They are plain mutable dataclasses because ``apply`` updates them in place on
every replica; nothing outside ``manager.state*`` mutates them, and readers
take ``ClusterState.lock`` and copy what they need.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from titan_ha.models import Outcome, TaskState, WorkerState


class _Record:
    """Lets a record pickled before one of its fields existed load with its default.

    Snapshots outlive releases: without this a slot added since the snapshot
    was taken would stay unset, and the first read of it would raise.
    """

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        # Slotted objects pickle as (None, {slot: value}).
        saved = state[1] if isinstance(state, tuple) else state
        for f in fields(self):  # type: ignore[arg-type]
            if f.name in saved:
                value = saved[f.name]
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(self, f.name, value)


@dataclass(slots=True)
class TaskSpecRecord:
    """What was asked for; never changes after submit."""

    command: str
    timeout_s: float = 0.0
    max_retries: int = 0
    idempotency_key: str = ""
    docker_image: str = ""
    cpus: float = 0.0
    memory_bytes: int = 0
    network: str = ""


@dataclass(slots=True)
class AttemptRecord(_Record):
    """One run of a task on one worker incarnation.

    The ``*_by_epoch`` fields are the epoch carried by the command that
    opened (assign) or ended (complete, reap, re-register) the attempt, -1
    when it carried none; the ``*_in_epoch`` fields are the epoch in force
    when that command applied. Fencing keeps each pair equal; 0 means not
    recorded (still open, or from a release that did not record them).
    """

    number: int
    worker_id: str
    incarnation: str
    started_at: float
    outcome: str = ""
    exit_code: int | None = None
    signal: str = ""
    finished_at: float = 0.0
    error: str = ""
    opened_by_epoch: int = 0
    opened_in_epoch: int = 0
    ended_by_epoch: int = 0
    ended_in_epoch: int = 0

    @property
    def is_open(self) -> bool:
        return not self.outcome


@dataclass(slots=True)
class OutputRecord:
    """The stored, capped output of one stream."""

    text: str = ""
    total_bytes: int = 0
    truncated: bool = False


@dataclass(slots=True)
class TaskRecord:
    """A task and the history of its attempts."""

    id: str
    seq: int
    spec: TaskSpecRecord
    submitted_at: float
    state: TaskState = TaskState.PENDING
    attempts: list[AttemptRecord] = field(default_factory=list)
    finished_at: float = 0.0
    stdout: OutputRecord = field(default_factory=OutputRecord)
    stderr: OutputRecord = field(default_factory=OutputRecord)

    @property
    def last_attempt(self) -> AttemptRecord | None:
        return self.attempts[-1] if self.attempts else None

    def count_outcomes(self, *outcomes: Outcome) -> int:
        return sum(1 for a in self.attempts if a.outcome in outcomes)


@dataclass(slots=True)
class WorkerRecord(_Record):
    """A worker incarnation known to the cluster.

    ``registered_*`` and ``reaped_*`` record the last register_worker and
    reap applied to it, as ``AttemptRecord``'s epoch fields do.
    """

    id: str
    incarnation: str
    registered_at: float
    dead: bool = False
    draining: bool = False
    # task id -> attempt number, for attempts this incarnation runs now.
    running: dict[str, int] = field(default_factory=dict)
    registered_by_epoch: int = 0
    registered_in_epoch: int = 0
    reaped_by_epoch: int = 0
    reaped_in_epoch: int = 0

    @property
    def state(self) -> WorkerState:
        if self.dead:
            return WorkerState.DEAD
        if self.draining:
            return WorkerState.DRAINING
        return WorkerState.BUSY if self.running else WorkerState.IDLE
