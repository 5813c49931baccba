"""State-machine handlers for workers: register, reap, drain.

A worker is known by its id; each process start is a new *incarnation*. The
attempts of an incarnation that is gone (reaped, or replaced by a restart)
end WORKER_LOST and their tasks are requeued or failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from titan_ha.manager.commands import Command, Result, epoch_of, number, reject, text
from titan_ha.manager.records import WorkerRecord
from titan_ha.manager.state_tasks import settle_task
from titan_ha.models import Outcome

if TYPE_CHECKING:
    from titan_ha.manager.state import ClusterState


def _lose_running_attempts(
    state: ClusterState, worker: WorkerRecord, now: float, cmd: Command
) -> list[str]:
    """Ends every attempt the worker runs as WORKER_LOST; returns the task ids."""
    lost = list(worker.running)
    for task_id, index in worker.running.items():
        task = state.tasks[task_id]
        attempt = task.attempts[index - 1]
        attempt.outcome = Outcome.WORKER_LOST
        attempt.finished_at = now
        attempt.ended_by_epoch = epoch_of(cmd)
        attempt.ended_in_epoch = state.epoch
        for stream in ("stdout", "stderr"):
            state.staged.pop((task_id, index, stream), None)
        settle_task(state, task, now)
    worker.running = {}
    return lost


def register_worker(state: ClusterState, cmd: Command) -> Result:
    worker_id, incarnation = text(cmd, "worker_id"), text(cmd, "incarnation")
    now = number(cmd, "now")
    if not worker_id or not incarnation:
        return reject("worker id and incarnation are required")
    worker = state.workers.get(worker_id)
    if worker is None:
        worker = state.workers[worker_id] = WorkerRecord(worker_id, incarnation, now)
    elif worker.incarnation == incarnation and not worker.dead:
        return {"ok": True, "lost": []}
    lost: list[str] = []
    if worker.incarnation != incarnation:
        # The old process is gone: whatever it ran will never report.
        lost = _lose_running_attempts(state, worker, now, cmd)
        worker.incarnation = incarnation
        worker.registered_at = now
        worker.draining = False
    worker.dead = False
    worker.registered_by_epoch = epoch_of(cmd)
    worker.registered_in_epoch = state.epoch
    return {"ok": True, "lost": lost}


def reap(state: ClusterState, cmd: Command) -> Result:
    now = number(cmd, "now")
    worker = state.workers.get(text(cmd, "worker_id"))
    if worker is None or worker.dead:
        return reject("worker unknown or already dead")
    if worker.incarnation != cmd.get("incarnation"):
        return reject("stale incarnation")
    worker.dead = True
    worker.reaped_by_epoch = epoch_of(cmd)
    worker.reaped_in_epoch = state.epoch
    lost = _lose_running_attempts(state, worker, now, cmd)
    return {"ok": True, "lost": lost}


def drain(state: ClusterState, cmd: Command) -> Result:
    worker = state.workers.get(text(cmd, "worker_id"))
    if worker is None:
        return reject("unknown worker")
    worker.draining = bool(cmd.get("draining", True))
    return {"ok": True, "state": worker.state.value}
