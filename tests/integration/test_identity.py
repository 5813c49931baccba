"""One process per identity: duplicate managers and workers are refused, and
a killed worker's attempt does not go on running unseen."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Harness

from titan_ha.api.views import TaskSpec

pytestmark = pytest.mark.integration


def test_a_second_manager_with_the_same_id_refuses_to_start(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory(workers=0)
    twin = harness.cluster.start_manager("m1", name="m1-twin")
    assert twin.wait(timeout=10) == 2
    log = (harness.cluster.log_dir / "m1-twin.log").read_text()
    assert "manager not started id=m1" in log
    assert "is in use by another running manager" in log
    assert harness.cluster.alive("m1")
    status = harness.client.status()
    assert sorted(m.role for m in status.managers) == ["follower", "follower", "leader"]


def test_a_second_worker_with_the_same_id_is_refused(
    cluster_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = cluster_factory(workers=1)
    harness.cluster.start_worker("worker-01", name="worker-01-twin")
    runs = tmp_path / "runs"
    ids = [
        harness.client.submit(TaskSpec(command=f"echo $TITAN_ATTEMPT >> {runs}"))[0]
        for _ in range(10)
    ]
    finals = [harness.client.wait(task_id, timeout_s=30) for task_id in ids]
    assert [(t.state, len(t.attempts)) for t in finals] == [("SUCCEEDED", 1)] * 10
    assert runs.read_text() == "1\n" * 10
    deadline = time.monotonic() + 10
    log = harness.cluster.log_dir / "worker-01-twin.log"
    while "in use by another live worker process" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def test_a_killed_workers_attempt_stops_with_it(
    cluster_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = cluster_factory(workers=2)
    started, ran = tmp_path / "started", tmp_path / "ran"
    task_id, _ = harness.client.submit(
        TaskSpec(
            command=f"echo $TITAN_WORKER_ID > {started}; sleep 2; "
            f"echo $TITAN_WORKER_ID >> {ran}"
        )
    )
    deadline = time.monotonic() + 10
    while not started.exists() or not started.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    victim = started.read_text().strip()
    harness.cluster.kill(victim)
    task = harness.client.wait(task_id, timeout_s=30)
    assert task.state == "SUCCEEDED"
    assert [a.outcome for a in task.attempts] == ["WORKER_LOST", "SUCCEEDED"]
    # Only the rerun wrote: the killed worker's shell died with it.
    survivor = task.attempts[1].worker_id
    assert ran.read_text() == f"{survivor}\n"


def test_a_worker_that_stopped_cleanly_is_let_back_in_at_once(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory(workers=1)
    harness.cluster.signal("worker-01", signal.SIGTERM)
    assert harness.cluster.processes["worker-01"].wait(timeout=15) == 0
    states = {w.id: w.state for w in harness.client.status().workers}
    assert states == {"worker-01": "DEAD"}  # said goodbye: not waiting for reaping
    restarted_at = time.monotonic()
    harness.cluster.start_worker("worker-01")
    harness.wait_workers(1)
    # Well under dead_after_s (3 s): the new process was not taken for a twin.
    assert time.monotonic() - restarted_at < 2.5
