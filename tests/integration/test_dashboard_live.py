"""The dashboard served by uvicorn against a real 3-manager cluster.

Until the managers serve it themselves, each test starts the dashboard in
this process against one manager's gRPC address, on a port of its own.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Harness

from titan_ha.api.views import TaskSpec
from titan_ha.dashboard import DashboardServer, serve_in_thread
from titan_ha.local_cluster import free_ports

pytestmark = pytest.mark.integration


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def fetch_json(url: str) -> Any:
    status, body = fetch(url)
    assert status == 200, body
    return json.loads(body)


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout_s}s")
        time.sleep(0.05)


@pytest.fixture
def dashboards() -> Iterator[Callable[[str], str]]:
    """Starts a dashboard for a gRPC endpoint; returns its base URL."""
    servers: list[DashboardServer] = []

    def start(grpc_endpoint: str) -> str:
        address = f"127.0.0.1:{free_ports(1)[0]}"
        servers.append(serve_in_thread(address, grpc_endpoint, None))
        return f"http://{address}"

    yield start
    for server in servers:
        server.stop()


def test_a_follower_dashboard_names_the_leader_and_lists_tasks(
    cluster_factory: Callable[..., Harness], dashboards: Callable[[str], str]
) -> None:
    harness = cluster_factory(workers=1)
    leader = harness.leader()
    follower = next(m for m in harness.cluster.config.managers if m.id != leader)
    task_id, _ = harness.client.submit(TaskSpec(command="echo from-dashboard"))
    assert harness.client.wait(task_id, timeout_s=15).state == "SUCCEEDED"
    base = dashboards(follower.grpc)

    status = fetch_json(f"{base}/api/status")
    assert status["leader"] == leader
    assert status["replica"]["id"] == follower.id
    assert status["replica"]["role"] == "follower"
    assert {m["id"] for m in status["managers"]} == {"m1", "m2", "m3"}

    def listed_done() -> bool:
        tasks = fetch_json(f"{base}/api/tasks?limit=10")
        return [(t["id"], t["state"]) for t in tasks][:1] == [(task_id, "SUCCEEDED")]

    wait_for(listed_done, 5.0, "the task listed as SUCCEEDED on the follower")
    task = fetch_json(f"{base}/api/tasks/{task_id}")
    assert task["stdout"] == "from-dashboard\n"
    assert [a["outcome"] for a in task["attempts"]] == ["SUCCEEDED"]
    missing, body = fetch(f"{base}/api/tasks/nope")
    assert (missing, json.loads(body)["error"]) == (404, "not_found")
    _, metrics = fetch(f"{base}/metrics")
    assert "titan_is_leader 0.0" in metrics.splitlines()
    assert fetch(f"{base}/healthz") == (200, "ok")


def test_the_event_stream_is_live_and_stop_ends_it(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory(workers=1)
    leader = harness.leader()
    spec = harness.cluster.manager_spec(leader)
    address = f"127.0.0.1:{free_ports(1)[0]}"
    server = serve_in_thread(address, spec.grpc, None)
    try:
        stream = urllib.request.urlopen(f"http://{address}/api/events", timeout=10)
        names = []
        while "status" not in names:
            line = stream.readline().decode()
            if line.startswith("event: "):
                names.append(line.removeprefix("event: ").strip())
        status = json.loads(stream.readline().decode().removeprefix("data: "))
        assert status["leader"] == leader
        assert status["replica"]["role"] == "leader"
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 4.0
    stream.close()


def test_a_replica_without_quorum_still_shows_its_own_state(
    cluster_factory: Callable[..., Harness], dashboards: Callable[[str], str]
) -> None:
    harness = cluster_factory(workers=1)
    leader = harness.leader()
    task_id, _ = harness.client.submit(TaskSpec(command="echo before"))
    harness.client.wait(task_id, timeout_s=15)
    managers = harness.cluster.config.managers
    survivor = next(m for m in managers if m.id != leader)
    others = [m for m in managers if m.id != survivor.id]
    base = dashboards(survivor.grpc)
    wait_for(
        lambda: fetch(f"{base}/api/tasks/{task_id}")[0] == 200, 5.0, "task applied"
    )

    for manager in others:
        harness.cluster.kill(manager.id)
    wait_for(
        lambda: fetch_json(f"{base}/api/status")["leader"] is None,
        15.0,
        "the survivor answering without a leader",
    )

    started = time.monotonic()
    status = fetch_json(f"{base}/api/status")
    tasks = fetch_json(f"{base}/api/tasks")
    took_s = time.monotonic() - started
    assert status["replica"]["id"] == survivor.id
    assert status["replica"]["role"] in ("follower", "candidate")
    assert task_id in [t["id"] for t in tasks]
    assert took_s < 5.0
