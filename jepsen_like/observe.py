"""After the faults: drain the queue, then read the final state.

Tasks, their attempts and their output, and the worker registry, are read
from the leader (reads there are linearizable). Each replica is also asked,
on its own endpoint, for its Raft view (``node_info``) and its own listing
of every task (``tasks(local=True)``), so that the checkers can compare
replicas.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from titan_ha.api.client import Client
from titan_ha.api.views import TaskView, WorkerView
from titan_ha.errors import TaskNotFound, TitanError

logger = logging.getLogger(__name__)

OUTPUT_KEEP_CHARS = 4096
FINAL_READ_BUDGET_S = 120.0
FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass
class FinalState:
    """What the cluster said at the end of the run."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    replicas: list[dict[str, Any]] = field(default_factory=list)
    drained: bool = False
    drain_s: float = 0.0
    read_errors: list[str] = field(default_factory=list)
    # The leader's worker registry; None when it could not be read (or the
    # run predates it).
    workers: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "drained": self.drained,
            "drain_s": round(self.drain_s, 3),
            "read_errors": self.read_errors,
            "replicas": self.replicas,
            "workers": self.workers,
            "tasks": list(self.tasks.values()),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FinalState:
        return cls(
            tasks={t["id"]: t for t in data["tasks"]},
            replicas=data["replicas"],
            drained=data["drained"],
            drain_s=data["drain_s"],
            read_errors=data["read_errors"],
            workers=data.get("workers"),
        )


def drain(client: Client, timeout_s: float) -> tuple[bool, float]:
    """Waits until the leader lists no PENDING or RUNNING task."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            listed = client.tasks(deadline_s=5.0)
        except TitanError as exc:
            logger.warning("drain listing failed error=%s", exc)
            time.sleep(0.5)
            continue
        if all(task.is_final for task in listed):
            return True, time.monotonic() - started
        time.sleep(0.5)
    return False, time.monotonic() - started


def read_final(
    client: Client,
    endpoints: list[str],
    extra_ids: set[str],
    budget_s: float = FINAL_READ_BUDGET_S,
) -> FinalState:
    """Every task in full from the leader, plus each replica's own view.

    Bounded by ``budget_s``: tasks not read by then are read errors, which
    make the checkers that need them unknown rather than wrong.
    """
    deadline = time.monotonic() + budget_s
    final = FinalState()
    ids: list[str] = []
    try:
        ids = [task.id for task in client.tasks(deadline_s=10.0)]
    except TitanError as exc:
        final.read_errors.append(f"list: {exc}")
    for task_id in list(dict.fromkeys(ids + sorted(extra_ids))):
        if time.monotonic() > deadline:
            final.read_errors.append(f"get {task_id}: final read budget spent")
            continue
        try:
            final.tasks[task_id] = task_json(client.get(task_id, deadline_s=10.0))
        except TaskNotFound:
            continue
        except TitanError as exc:
            final.read_errors.append(f"get {task_id}: {exc}")
    final.workers = read_workers(client)
    final.replicas = read_replicas(endpoints)
    return final


def read_workers(client: Client) -> list[dict[str, Any]] | None:
    """The leader's worker registry, or None when it does not answer."""
    try:
        status = client.status(deadline_s=10.0)
    except TitanError as exc:
        # Only the checkers that look at workers lose anything: they say
        # unknown about them; the task checkers do not depend on this read.
        logger.warning("final worker read failed error=%s", exc)
        return None
    if status.leader is None:
        logger.warning("final worker read answered without a leader")
        return None
    return [worker_json(worker) for worker in status.workers]


def worker_json(worker: WorkerView) -> dict[str, Any]:
    return {
        "id": worker.id,
        "state": worker.state,
        "registered_by_epoch": worker.registered_by_epoch,
        "registered_in_epoch": worker.registered_in_epoch,
        "reaped_by_epoch": worker.reaped_by_epoch,
        "reaped_in_epoch": worker.reaped_in_epoch,
    }


def read_replicas(endpoints: list[str], settle_s: float = 10.0) -> list[dict[str, Any]]:
    """Each replica's own task listing and Raft view, at one applied index.

    Waits (up to ``settle_s``) until every replica has applied the same
    index, reads each one's local listing, and retries if an index moved
    meanwhile, so that the listings are comparable.
    """
    deadline = time.monotonic() + settle_s
    while True:
        before = [_node_info(endpoint) for endpoint in endpoints]
        settled = len({v.get("applied_index") for v in before}) == 1
        if not settled and time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        views = [
            {**view, "tasks": _local_tasks(endpoint)}
            for endpoint, view in zip(endpoints, before, strict=True)
        ]
        after = [_node_info(endpoint) for endpoint in endpoints]
        moved = [v.get("applied_index") for v in before] != [
            v.get("applied_index") for v in after
        ]
        if not moved or time.monotonic() > deadline:
            return views


def _node_info(endpoint: str) -> dict[str, Any]:
    client = Client([endpoint], endpoint_timeout_s=1.0)
    try:
        return {"endpoint": endpoint, **client.node_info(deadline_s=2.0)}
    except Exception as exc:
        # node_info may let a transport error through: a replica that does
        # not answer is what the convergence checker reports, not a crash.
        return {"endpoint": endpoint, "error": f"node info: {exc}"}
    finally:
        client.close()


def _local_tasks(endpoint: str) -> dict[str, list[Any]] | str:
    """The replica's own view of every task, or why it could not be read."""
    client = Client([endpoint], endpoint_timeout_s=2.0)
    try:
        listed = client.tasks(local=True, deadline_s=10.0)
    except TitanError as exc:
        return f"local listing: {exc}"
    finally:
        client.close()
    return {task.id: replica_digest(task) for task in listed}


def replica_digest(task: TaskView) -> list[Any]:
    """What every replica must agree on about a task once the log is applied."""
    return [
        task.state,
        task.outcome,
        task.exit_code,
        task.worker_id,
        round(task.finished_at, 3),
        task.stdout_bytes,
    ]


def task_json(task: TaskView) -> dict[str, Any]:
    """A task with raw Unix times and its output cut to head and tail."""
    data: dict[str, Any] = {
        "id": task.id,
        "state": task.state,
        "idempotency_key": task.idempotency_key,
        "command": task.command,
        "timeout_s": task.timeout_s,
        "max_retries": task.max_retries,
        "submitted_at": task.submitted_at,
        "finished_at": task.finished_at,
        "exit_code": task.exit_code,
        "outcome": task.outcome,
        "worker_id": task.worker_id,
        "stdout_bytes": task.stdout_bytes,
        "stdout_truncated": task.stdout_truncated,
        "stdout": _cut(task.stdout),
        "stderr": _cut(task.stderr),
        "attempts": [
            {
                "number": a.number,
                "worker_id": a.worker_id,
                "outcome": a.outcome,
                "exit_code": a.exit_code,
                "signal": a.signal,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "opened_by_epoch": a.opened_by_epoch,
                "opened_in_epoch": a.opened_in_epoch,
                "ended_by_epoch": a.ended_by_epoch,
                "ended_in_epoch": a.ended_in_epoch,
            }
            for a in task.attempts
        ],
    }
    return data


def _cut(text: str) -> str:
    if len(text) <= OUTPUT_KEEP_CHARS:
        return text
    half = OUTPUT_KEEP_CHARS // 2
    return text[:half] + "\n…[jepsen_like: cut]…\n" + text[-half:]
