"""partition-leader without root: a real cluster behind the Raft proxy.

Cutting the leader's Raft links must hand leadership to the other two, leave
the old leader unable to commit, keep a worker that knows every endpoint at
work, and after healing bring all three replicas to the same log.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from jepsen_like.proxy import ProxyNetwork
from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec
from titan_ha.errors import CommitUncertain, NoLeader, TitanError
from titan_ha.local_cluster import LocalCluster, write_config

pytestmark = pytest.mark.integration

IDS = ["m1", "m2", "m3"]
# Commands near the 32 KiB limit: the backlog the healed replica must fetch
# through the proxy is then several of pysyncobj's 64 KiB append batches.
BIG_COMMAND = "true " + "x" * 30_000
T = TypeVar("T")


class ProxiedCluster:
    """Three managers and one worker, their Raft links through a ProxyNetwork."""

    def __init__(self, tmp: Path) -> None:
        self.network = ProxyNetwork(IDS, self.pid_of)
        specs = self.network.manager_specs()
        write_config(
            tmp / "cluster.toml",
            0,
            keep=tuple(specs),
            secret=f"proxy-{uuid.uuid4().hex}",
            dead_after_s=3.0,
            pulse_interval_s=0.5,
        )
        self.local = LocalCluster(
            tmp / "cluster.toml", tmp / "state", prefix=self.network.prefix
        )
        self.grpc = {spec.id: spec.grpc for spec in specs}
        self.clients: list[Client] = []

    def pid_of(self, name: str) -> int | None:
        process = self.local.processes.get(name)
        return process.pid if process is not None and process.poll() is None else None

    def client(self, *manager_ids: str) -> Client:
        client = Client([self.grpc[m] for m in manager_ids])
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.local.stop()
        self.network.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ProxiedCluster]:
    cluster = ProxiedCluster(tmp_path)
    cluster.network.start()
    cluster.local.start(workers=1)
    yield cluster
    cluster.close()


def eventually(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """The first truthy result of ``probe``; fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = probe()
        except TitanError:
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout_s}s: {what}")


def test_isolated_leader_is_replaced_and_rejoins(cluster: ProxiedCluster) -> None:
    everyone = cluster.client(*IDS)
    old = eventually(lambda: everyone.status(deadline_s=1.0).leader, 10.0, "leader")
    eventually(
        lambda: any(w.state == "IDLE" for w in everyone.status().workers),
        10.0,
        "the worker joins",
    )
    others = [m for m in IDS if m != old]
    majority = cluster.client(*others)
    isolated = cluster.client(old)

    cluster.network.isolate(old)
    started = time.monotonic()
    new = eventually(
        lambda: majority.status(deadline_s=1.0).leader, 5.0, "a leader of the two"
    )
    assert new in others
    assert time.monotonic() - started < 5.0

    # The old leader steps down once it hears from no majority, knows no
    # leader to redirect to, and never commits what it is sent meanwhile.
    # A submit it took into its log before stepping down timed out: the
    # client must call that uncertain, not "no leader".
    lost_write = f"echo lost-{uuid.uuid4().hex}"
    with pytest.raises((NoLeader, CommitUncertain), match="no leader elected yet"):
        isolated.submit(TaskSpec(lost_write), deadline_s=4.0)
    info = isolated.node_info()
    assert (info["role"], info["leader_id"]) == ("follower", None)

    task_id, _ = majority.submit(TaskSpec("echo through-the-majority"))
    assert majority.wait(task_id, timeout_s=15.0).state == "SUCCEEDED"
    for _ in range(10):
        majority.submit(TaskSpec(BIG_COMMAND))

    cluster.network.heal()
    readers = [cluster.client(m) for m in IDS]

    def converged() -> list[str] | None:
        infos = [r.node_info() for r in readers]
        indexes = {(i["commit_index"], i["applied_index"]) for i in infos}
        listings = {tuple(t.id for t in r.tasks(local=True)) for r in readers}
        if len(indexes) == 1 and len(listings) == 1:
            return [t.command for t in readers[0].tasks(local=True)]
        return None

    commands = eventually(converged, 10.0, "the three replicas converge")
    assert "echo through-the-majority" in commands
    assert commands.count(BIG_COMMAND) == 10
    assert lost_write not in commands
