"""Whole-cluster crashes with --data-dir: every acknowledged task survives."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest
from conftest import Harness

from titan_ha.api.views import TaskSpec
from titan_ha.errors import TitanError

pytestmark = pytest.mark.integration


def submit_until(
    harness: Harness, stop: threading.Event, acked: dict[str, str]
) -> None:
    """Submits ``echo`` tasks back to back; records each acknowledged one."""
    number = 0
    while not stop.is_set():
        expected = f"out-{number}\n"
        try:
            task_id, _ = harness.client.submit(
                TaskSpec(command=f"echo out-{number}"), deadline_s=3.0
            )
            acked[task_id] = expected
        except TitanError:
            pass  # not acknowledged: the checker below makes no claim about it
        number += 1


def test_killing_every_manager_five_times_loses_nothing(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory()
    managers = [m.id for m in harness.cluster.config.managers]
    acked: dict[str, str] = {}
    stop = threading.Event()
    loader = threading.Thread(target=submit_until, args=(harness, stop, acked))
    loader.start()
    try:
        for _ in range(5):
            time.sleep(1.0)
            for manager_id in managers:
                harness.cluster.signal(manager_id, signal.SIGKILL)
            for manager_id in managers:
                harness.cluster.processes[manager_id].wait()
            for manager_id in managers:
                harness.cluster.start_manager(manager_id)
            harness.leader(timeout_s=20.0)
        time.sleep(1.0)
    finally:
        stop.set()
        loader.join()

    assert len(acked) >= 50
    finals = {task_id: harness.client.wait(task_id, timeout_s=60) for task_id in acked}
    wrong = {
        task_id: (task.state, task.stdout)
        for task_id, task in finals.items()
        if task.state != "SUCCEEDED" or task.stdout != acked[task_id]
    }
    assert wrong == {}
    listed = {task.id for task in harness.client.tasks(limit=0)}
    assert set(acked) <= listed
