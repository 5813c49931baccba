"""Pure scheduling decisions over the replicated state.

The scheduler never proposes anything itself: it reads the state under its
lock and says which tasks a worker should get. The dispatcher turns that into
``assign`` commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from titan_ha.manager.state import ClusterState
from titan_ha.models import TaskState


@dataclass(frozen=True)
class Choice:
    """Give attempt ``attempt`` of ``task_id`` to the worker."""

    task_id: str
    attempt: int


def choose_tasks(state: ClusterState, worker_id: str, slots: int) -> list[Choice]:
    """Oldest pending tasks first, at most ``slots`` of them."""
    if slots <= 0:
        return []
    with state.lock:
        worker = state.workers.get(worker_id)
        if worker is None or worker.dead or worker.draining:
            return []
        choices = []
        for task_id in state.pending:
            task = state.tasks[task_id]
            if task.state == TaskState.PENDING:
                choices.append(Choice(task_id, len(task.attempts) + 1))
            if len(choices) == slots:
                break
        return choices
