"""The records held in the replicated state.

They are plain mutable dataclasses because ``apply`` updates them in place on
every replica; nothing outside ``manager.state*`` mutates them, and readers
take ``ClusterState.lock`` and copy what they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from titan_ha.models import Outcome, TaskState, WorkerState


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
class AttemptRecord:
    """One run of a task on one worker incarnation."""

    number: int
    worker_id: str
    incarnation: str
    started_at: float
    outcome: str = ""
    exit_code: int | None = None
    signal: str = ""
    finished_at: float = 0.0
    error: str = ""

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
class WorkerRecord:
    """A worker incarnation known to the cluster."""

    id: str
    incarnation: str
    registered_at: float
    dead: bool = False
    draining: bool = False
    # task id -> attempt number, for attempts this incarnation runs now.
    running: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> WorkerState:
        if self.dead:
            return WorkerState.DEAD
        if self.draining:
            return WorkerState.DRAINING
        return WorkerState.BUSY if self.running else WorkerState.IDLE
