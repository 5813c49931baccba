"""A leader cut off from the other managers by network namespaces (root)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jepsen_like.netns import NetnsNetwork, netns_usable
from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec
from titan_ha.errors import TitanError
from titan_ha.local_cluster import LocalCluster, write_config

pytestmark = pytest.mark.integration

MANAGERS = ["m1", "m2", "m3"]
# Commands near the 32 KiB limit: forty of them are many of pysyncobj's
# 64 KiB append batches, so the healed replica's backlog is pipelined (with
# pysyncobj's own rejection answers it then never caught up: see raft.py).
BIG_COMMAND = "true " + "x" * 30_000


@pytest.fixture
def partitioned(tmp_path: Path) -> Iterator[tuple[NetnsNetwork, LocalCluster]]:
    why = netns_usable()
    if why:
        pytest.fail(f"this test needs network namespaces: {why}")
    network = NetnsNetwork(MANAGERS, uuid.uuid4().hex[:12])
    write_config(
        tmp_path / "cluster.toml",
        0,
        keep=tuple(network.manager_specs()),
        secret="partition-test",
    )
    cluster = LocalCluster(tmp_path / "cluster.toml", tmp_path, prefix=network.prefix)
    network.start()
    try:
        for manager in MANAGERS:
            cluster.start_manager(manager)
        yield network, cluster
    finally:
        cluster.stop(timeout_s=5.0)
        network.close()


def _leader(client: Client, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = client.status(deadline_s=3.0)
            if last.leader:
                return last.leader
        except TitanError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"no leader in time; last status error or view: {last!r}")


def _commit_indexes(clients: dict[str, Client]) -> dict[str, object]:
    indexes: dict[str, object] = {}
    for manager, client in clients.items():
        try:
            indexes[manager] = client.node_info(deadline_s=1.0)["commit_index"]
        except TitanError:
            indexes[manager] = None
    return indexes


def test_healed_leader_with_a_divergent_tail_catches_up(
    partitioned: tuple[NetnsNetwork, LocalCluster],
) -> None:
    network, cluster = partitioned
    specs = {m.id: m.grpc for m in cluster.config.managers}
    # Status waits up to 0.5 s for an unreachable peer: give it longer.
    everyone = Client(list(specs.values()), endpoint_timeout_s=2.0)
    own = {m: Client([grpc], endpoint_timeout_s=0.5) for m, grpc in specs.items()}
    old = _leader(everyone)
    network.isolate(old)

    # The cut-off leader still believes it leads for a while: what it is sent
    # now lands in its log alone and can never commit.
    def doomed() -> None:
        with contextlib.suppress(TitanError):
            own[old].submit(TaskSpec(command=BIG_COMMAND), deadline_s=2.0)

    threads = [threading.Thread(target=doomed) for _ in range(20)]
    for thread in threads:
        thread.start()
    majority = Client([specs[m] for m in MANAGERS if m != old], endpoint_timeout_s=2.0)
    new = _leader(majority)
    assert new != old
    for _ in range(40):
        majority.submit(TaskSpec(command=BIG_COMMAND), deadline_s=5.0)
    for thread in threads:
        thread.join()
    behind = int(str(own[old].node_info(deadline_s=1.0)["commit_index"]))
    assert behind < int(str(own[new].node_info()["commit_index"]))

    network.heal()
    deadline = time.monotonic() + 10.0
    indexes = _commit_indexes(own)
    while time.monotonic() < deadline and len(set(indexes.values())) != 1:
        time.sleep(0.2)
        indexes = _commit_indexes(own)
    assert len(set(indexes.values())) == 1, indexes
    listings = {m: len(c.tasks(local=True)) for m, c in own.items()}
    assert listings == dict.fromkeys(MANAGERS, 40)
    for client in [everyone, majority, *own.values()]:
        client.close()
