"""What the client library returns: frozen values with the CLI's JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from titan_ha._proto import titan_pb2 as pb
from titan_ha.models import AUTO_KEY_PREFIX


def iso(ts: float) -> str | None:
    """Unix seconds as ISO-8601 UTC, or None for 0 (not yet)."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def user_key(key: str) -> str | None:
    """The idempotency key the user gave, None for one the client made up."""
    return None if not key or key.startswith(AUTO_KEY_PREFIX) else key


@dataclass(frozen=True)
class TaskSpec:
    """What to run. ``timeout_s`` 0 means no timeout."""

    command: str
    timeout_s: float = 0.0
    max_retries: int = 0
    docker_image: str = ""
    cpus: float = 0.0
    memory_bytes: int = 0
    network: str = ""

    def to_proto(self, idempotency_key: str) -> pb.TaskSpec:
        return pb.TaskSpec(
            command=self.command,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            idempotency_key=idempotency_key,
            docker_image=self.docker_image,
            cpus=self.cpus,
            memory_bytes=self.memory_bytes,
            network=self.network,
        )


def epoch_or_none(epoch: int) -> int | None:
    """An epoch a record carries, None for 0 (not recorded)."""
    return epoch or None


@dataclass(frozen=True)
class AttemptView:
    """One attempt of a task.

    The epoch fields (0: not recorded) say which epoch the commands that
    opened and ended it carried (``*_by_epoch``, -1: none) and which was in
    force when they applied (``*_in_epoch``).
    """

    number: int
    worker_id: str
    outcome: str | None
    exit_code: int | None
    signal: str | None
    started_at: float
    finished_at: float
    error: str
    opened_by_epoch: int = 0
    opened_in_epoch: int = 0
    ended_by_epoch: int = 0
    ended_in_epoch: int = 0

    @classmethod
    def from_proto(cls, a: pb.Attempt) -> AttemptView:
        return cls(
            number=a.number,
            worker_id=a.worker_id,
            outcome=a.outcome or None,
            exit_code=a.exit_code if a.has_exit_code else None,
            signal=a.signal or None,
            started_at=a.started_at,
            finished_at=a.finished_at,
            error=a.error,
            opened_by_epoch=a.opened_by_epoch,
            opened_in_epoch=a.opened_in_epoch,
            ended_by_epoch=a.ended_by_epoch,
            ended_in_epoch=a.ended_in_epoch,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "worker_id": self.worker_id,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "error": self.error or None,
            "opened_by_epoch": epoch_or_none(self.opened_by_epoch),
            "opened_in_epoch": epoch_or_none(self.opened_in_epoch),
            "ended_by_epoch": epoch_or_none(self.ended_by_epoch),
            "ended_in_epoch": epoch_or_none(self.ended_in_epoch),
        }


@dataclass(frozen=True)
class TaskView:
    """A task as ``titan get`` shows it."""

    id: str
    state: str
    command: str
    docker_image: str | None
    timeout_s: float
    max_retries: int
    idempotency_key: str | None
    submitted_at: float
    finished_at: float
    worker_id: str | None
    exit_code: int | None
    outcome: str | None
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    stdout_truncated: bool
    stderr_truncated: bool
    attempts: tuple[AttemptView, ...]
    attempt_count: int = 0

    @property
    def is_final(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @classmethod
    def from_proto(cls, t: pb.Task) -> TaskView:
        return cls(
            id=t.id,
            state=t.state,
            command=t.spec.command,
            docker_image=t.spec.docker_image or None,
            timeout_s=t.spec.timeout_s,
            max_retries=t.spec.max_retries,
            idempotency_key=user_key(t.spec.idempotency_key),
            submitted_at=t.submitted_at,
            finished_at=t.finished_at,
            worker_id=t.worker_id or None,
            exit_code=t.exit_code if t.has_exit_code else None,
            outcome=t.outcome or None,
            stdout=t.stdout,
            stderr=t.stderr,
            stdout_bytes=t.stdout_bytes,
            stderr_bytes=t.stderr_bytes,
            stdout_truncated=t.stdout_truncated,
            stderr_truncated=t.stderr_truncated,
            attempts=tuple(AttemptView.from_proto(a) for a in t.attempts),
            attempt_count=t.attempt_count or len(t.attempts),
        )

    def to_json(self, with_output: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "command": self.command,
            "docker_image": self.docker_image,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "idempotency_key": self.idempotency_key,
            "submitted_at": iso(self.submitted_at),
            "finished_at": iso(self.finished_at),
            "worker_id": self.worker_id,
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "stdout_bytes": self.stdout_bytes,
            "stderr_bytes": self.stderr_bytes,
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "attempts": [a.to_json() for a in self.attempts],
        }
        if not with_output:
            for key in ("stdout", "stderr", "attempts"):
                del data[key]
        return data


@dataclass(frozen=True)
class ManagerView:
    id: str
    grpc: str
    role: str
    commit_index: int
    applied_index: int

    def to_json(self) -> dict[str, Any]:
        known = self.role != "unreachable"
        return {
            "id": self.id,
            "grpc": self.grpc,
            "role": self.role,
            "commit_index": self.commit_index if known else None,
            "applied_index": self.applied_index if known else None,
        }


@dataclass(frozen=True)
class WorkerView:
    """A worker as ``titan status`` shows it.

    The epoch fields describe the last register and reap applied to it, as
    ``AttemptView``'s do; ``titan status --json`` leaves them out.
    """

    id: str
    state: str
    last_seen_s: float | None
    running: tuple[str, ...]
    registered_by_epoch: int = 0
    registered_in_epoch: int = 0
    reaped_by_epoch: int = 0
    reaped_in_epoch: int = 0

    def to_json(self) -> dict[str, Any]:
        seen = None if self.last_seen_s is None else round(self.last_seen_s, 2)
        return {
            "id": self.id,
            "state": self.state,
            "last_seen_s": seen,
            "running": list(self.running),
        }


@dataclass(frozen=True)
class ClusterStatus:
    """What ``titan status`` shows. ``leader`` is None when none is known."""

    leader: str | None
    term: int
    managers: tuple[ManagerView, ...]
    workers: tuple[WorkerView, ...]
    tasks: dict[str, int]
    stale: bool

    @classmethod
    def from_proto(cls, s: pb.StatusReply) -> ClusterStatus:
        return cls(
            leader=s.leader or None,
            term=s.term,
            managers=tuple(
                ManagerView(m.id, m.grpc, m.role, m.commit_index, m.applied_index)
                for m in s.managers
            ),
            workers=tuple(
                WorkerView(
                    w.id,
                    w.state,
                    None if w.last_seen_s < 0 else w.last_seen_s,
                    tuple(w.running),
                    registered_by_epoch=w.registered_by_epoch,
                    registered_in_epoch=w.registered_in_epoch,
                    reaped_by_epoch=w.reaped_by_epoch,
                    reaped_in_epoch=w.reaped_in_epoch,
                )
                for w in s.workers
            ),
            tasks=dict(s.tasks),
            stale=s.stale,
        )

    def to_json(self) -> dict[str, Any]:
        order = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
        return {
            "leader": self.leader,
            "term": self.term,
            "managers": [m.to_json() for m in self.managers],
            "workers": [w.to_json() for w in self.workers],
            "tasks": {k: self.tasks.get(k, 0) for k in order},
        }
