"""Fixtures that start real manager and worker processes on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from titan_ha.api.client import Client
from titan_ha.errors import TitanError
from titan_ha.local_cluster import LocalCluster, write_config

DEAD_AFTER_S = 3.0


class Harness:
    """A running local cluster plus a client and CLI runner for it."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.client = Client(cluster.endpoints.split(","))

    def leader(self, timeout_s: float = 10.0) -> str:
        """The id of the manager that leads, waiting for one to be elected."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                status = self.client.status(deadline_s=2.0)
                if status.leader and self.cluster.alive(status.leader):
                    return status.leader
            except TitanError:
                pass
            time.sleep(0.05)
        raise AssertionError("no leader elected in time")

    def wait_workers(self, count: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.client.status()
            if sum(w.state in ("IDLE", "BUSY") for w in status.workers) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{count} workers did not join in time")

    def titan(
        self, *args: str, managers: str | None = None, timeout_s: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TITAN_MANAGERS": managers or self.cluster.endpoints}
        return subprocess.run(
            [sys.executable, "-m", "titan_ha.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
            check=False,
        )


def start_harness(
    tmp: Path, managers: int = 3, workers: int = 2, **cluster: float | str
) -> Harness:
    """A running cluster; ``cluster`` overrides keys of its [cluster] table."""
    tmp.mkdir(parents=True, exist_ok=True)
    settings: dict[str, float | str] = {
        "secret": "test-secret",
        "dead_after_s": DEAD_AFTER_S,
        "pulse_interval_s": 0.5,
        **cluster,
    }
    config = write_config(tmp / "cluster.toml", managers, **settings)
    assert len(config.managers) == managers
    cluster = LocalCluster(tmp / "cluster.toml", tmp / "state")
    cluster.start(workers)
    harness = Harness(cluster)
    harness.leader()
    harness.wait_workers(workers)
    return harness


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = start_harness(tmp_path_factory.mktemp("shared"))
    yield harness
    harness.client.close()
    harness.cluster.stop()


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    started: list[Harness] = []

    def factory(**kwargs: float | str) -> Harness:
        harness = start_harness(tmp_path / f"c{len(started)}", **kwargs)
        started.append(harness)
        return harness

    yield factory
    for harness in started:
        harness.client.close()
        harness.cluster.stop()


def processes_matching(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text``."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if text in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process.pid)
    return found
