"""Leader and worker deaths by SIGKILL, on their own clusters."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from conftest import DEAD_AFTER_S, Harness

from titan_ha.api.views import TaskSpec

pytestmark = pytest.mark.integration


def test_leader_sigkill_loses_no_task(cluster_factory: Callable[..., Harness]) -> None:
    harness = cluster_factory()
    client = harness.client
    ids = [client.submit(TaskSpec(command="sleep 2"))[0] for _ in range(20)]
    old_leader = harness.leader()
    time.sleep(0.5)
    killed_at = time.monotonic()
    harness.cluster.kill(old_leader)

    new_leader = harness.leader(timeout_s=5.0)
    elected_s = time.monotonic() - killed_at
    assert new_leader != old_leader
    assert elected_s <= 3.0, f"new leader after {elected_s:.2f}s"

    # Submitting keeps working through the CLI; the dead endpoint is skipped.
    for i in range(3):
        result = harness.titan("submit", f"--command=echo after-{i}")
        assert result.returncode == 0, result.stderr
        ids.append(result.stdout.strip())

    finals = [client.wait(task_id, timeout_s=60) for task_id in ids]
    assert [t.state for t in finals] == ["SUCCEEDED"] * len(ids)
    listed = {t.id for t in client.tasks(limit=0)}
    assert set(ids) <= listed
    assert len(listed) == len(ids)


def test_worker_sigkill_reruns_task_elsewhere(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory()
    client = harness.client
    task_id, _ = client.submit(TaskSpec(command="sleep 5"))
    deadline = time.monotonic() + 5
    while (task := client.get(task_id)).state != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim = task.attempts[0].worker_id
    harness.cluster.kill(victim)
    killed_at = time.monotonic()

    while True:
        states = {w.id: w.state for w in client.status().workers}
        if states[victim] == "DEAD":
            break
        assert time.monotonic() - killed_at <= DEAD_AFTER_S + 2
        time.sleep(0.1)

    task = client.wait(task_id, timeout_s=20)
    assert task.state == "SUCCEEDED"
    assert [a.outcome for a in task.attempts] == ["WORKER_LOST", "SUCCEEDED"]
    survivor = next(w for w in ("worker-01", "worker-02") if w != victim)
    assert task.attempts[1].worker_id == survivor
