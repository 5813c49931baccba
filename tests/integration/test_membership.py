"""Growing a running cluster from 3 managers to 5 and back, without downtime."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Harness

from titan_ha.api.views import TaskSpec
from titan_ha.config import ClusterConfig
from titan_ha.errors import TitanError
from titan_ha.local_cluster import write_config

pytestmark = pytest.mark.integration


def roles(harness: Harness) -> dict[str, str]:
    return {m.id: m.role for m in harness.client.status().managers}


def wait_for_roles(harness: Harness, expected: int, timeout_s: float = 15.0) -> None:
    """Waits until ``expected`` managers answer, all at the same applied index."""
    deadline = time.monotonic() + timeout_s
    while True:
        managers = harness.client.status().managers
        answering = [m for m in managers if m.role != "unreachable"]
        if (
            len(managers) == expected == len(answering)
            and len({m.applied_index for m in answering}) == 1
        ):
            return
        assert time.monotonic() < deadline, managers
        time.sleep(0.2)


def make_a_newcomer_lead(harness: Harness, newcomers: set[str]) -> None:
    """Pauses original leaders until a newcomer wins an election, so that
    removing it has to move leadership first."""
    for _ in range(10):
        leader = harness.leader(timeout_s=5.0)
        if leader in newcomers:
            return
        harness.cluster.signal(leader, signal.SIGSTOP)
        while harness.leader(timeout_s=5.0) == leader:
            time.sleep(0.05)
        harness.cluster.signal(leader, signal.SIGCONT)
    raise AssertionError("no newcomer won an election in 10 tries")


def test_grow_to_five_and_shrink_back_while_tasks_run(
    cluster_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = cluster_factory()
    five = tmp_path / "five.toml"
    write_config(
        five,
        2,
        keep=harness.cluster.config.managers,
        secret="test-secret",
        dead_after_s=3.0,
        pulse_interval_s=0.5,
    )
    newcomers = ClusterConfig.from_toml(five).managers[3:]

    submitted: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def submit_loop() -> None:
        while not stop.is_set():
            try:
                task_id, _ = harness.client.submit(TaskSpec(command="sleep 0.2"))
                submitted.append(task_id)
            except TitanError as exc:
                failures.append(str(exc))
            time.sleep(0.05)

    loader = threading.Thread(target=submit_loop)
    loader.start()
    try:
        for spec in newcomers:
            harness.cluster.start_manager(spec.id, five)
            added = harness.titan(
                "cluster",
                "add-manager",
                f"--id={spec.id}",
                f"--grpc={spec.grpc}",
                f"--raft={spec.raft}",
            )
            assert added.returncode == 0, added.stderr
        wait_for_roles(harness, 5)
        assert sorted(roles(harness).values()).count("leader") == 1

        # Five replicas survive the loss of an original leader, with quorum 3.
        harness.cluster.kill(harness.leader())
        make_a_newcomer_lead(harness, {spec.id for spec in newcomers})

        for spec in newcomers:
            removed = harness.titan("cluster", "remove-manager", f"--id={spec.id}")
            assert removed.returncode == 0, removed.stderr
            assert spec.id not in removed.stdout
        for spec in newcomers:
            harness.cluster.signal(spec.id, signal.SIGTERM)
    finally:
        stop.set()
        loader.join()

    assert failures == []
    assert sorted(roles(harness)) == ["m1", "m2", "m3"]
    finals = [harness.client.wait(task_id, timeout_s=60) for task_id in submitted]
    assert [t.state for t in finals] == ["SUCCEEDED"] * len(submitted)
    assert len(submitted) >= 20
