"""The dashboard app against a fake client: exact JSON, auth, metrics, events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from titan_ha.api.views import (
    AttemptView,
    ClusterStatus,
    ManagerView,
    TaskView,
    WorkerView,
)
from titan_ha.dashboard import create_app
from titan_ha.dashboard.events import TaskChanges
from titan_ha.errors import NoLeader, TaskNotFound, TitanError, Unreachable

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
TOKEN = "s3cret"


def task_view(task_id: str, state: str, submitted_at: float, **fields: Any) -> TaskView:
    base = TaskView(
        id=task_id,
        state=state,
        command=f"echo {task_id}",
        docker_image=None,
        timeout_s=5.0,
        max_retries=1,
        idempotency_key=None,
        submitted_at=submitted_at,
        finished_at=0.0,
        worker_id=None,
        exit_code=None,
        outcome=None,
        stdout="",
        stderr="",
        stdout_bytes=0,
        stderr_bytes=0,
        stdout_truncated=False,
        stderr_truncated=False,
        attempts=(),
    )
    return replace(base, **fields)


DONE = task_view(
    "t-done",
    "SUCCEEDED",
    T0,
    finished_at=T0 + 1.5,
    worker_id="worker-01",
    exit_code=0,
    outcome="SUCCEEDED",
    stdout="hello\n",
    stdout_bytes=6,
    attempts=(
        AttemptView(
            1,
            "worker-01",
            "SUCCEEDED",
            0,
            None,
            T0 + 0.5,
            T0 + 1.5,
            "",
            opened_by_epoch=4,
            opened_in_epoch=4,
            ended_by_epoch=4,
            ended_in_epoch=4,
        ),
    ),
)
WAITING = task_view("t-wait", "PENDING", T0 + 10)


class FakeClient:
    """Answers like ``titan_ha.api.Client`` from fixed views; records reads."""

    def __init__(self) -> None:
        self.cluster = ClusterStatus(
            leader="m1",
            term=4,
            managers=(
                ManagerView("m1", "127.0.0.1:50051", "leader", 120, 120),
                ManagerView("m2", "127.0.0.1:50052", "follower", 120, 119),
            ),
            workers=(
                WorkerView("worker-01", "IDLE", 0.4, ()),
                WorkerView("worker-02", "DEAD", None, ()),
            ),
            tasks={"PENDING": 1, "SUCCEEDED": 1},
            stale=False,
        )
        self.info: dict[str, object] = {
            "id": "m2",
            "grpc": "127.0.0.1:50052",
            "role": "follower",
            "term": 4,
            "commit_index": 120,
            "applied_index": 119,
            "leader_id": "m1",
            "rejections": {"stale epoch": 2},
        }
        self.views = [WAITING, DONE]  # newest first
        self.status_error: Exception | None = None
        self.info_error: Exception | None = None
        self.reads: list[tuple[str | None, int, bool]] = []
        self.status_calls = 0

    def status(self, *, deadline_s: float = 3.0) -> ClusterStatus:
        self.status_calls += 1
        if self.status_error is not None:
            raise self.status_error
        return self.cluster

    def node_info(self, *, deadline_s: float = 2.0) -> dict[str, object]:
        if self.info_error is not None:
            raise self.info_error
        return self.info

    def tasks(
        self,
        state: str | None = None,
        limit: int = 0,
        *,
        local: bool = False,
        deadline_s: float = 5.0,
    ) -> list[TaskView]:
        self.reads.append((state, limit, local))
        found = [v for v in self.views if state is None or v.state == state]
        return found[:limit] if limit else found

    def get(
        self, task_id: str, *, local: bool = False, deadline_s: float = 5.0
    ) -> TaskView:
        assert local
        for view in self.views:
            if view.id == task_id:
                return view
        raise TaskNotFound(task_id)


STATUS_JSON = {
    "leader": "m1",
    "term": 4,
    "managers": [
        {
            "id": "m1",
            "grpc": "127.0.0.1:50051",
            "role": "leader",
            "commit_index": 120,
            "applied_index": 120,
        },
        {
            "id": "m2",
            "grpc": "127.0.0.1:50052",
            "role": "follower",
            "commit_index": 120,
            "applied_index": 119,
        },
    ],
    "workers": [
        {"id": "worker-01", "state": "IDLE", "last_seen_s": 0.4, "running": []},
        {"id": "worker-02", "state": "DEAD", "last_seen_s": None, "running": []},
    ],
    "tasks": {"PENDING": 1, "RUNNING": 0, "SUCCEEDED": 1, "FAILED": 0, "CANCELLED": 0},
    "replica": {
        "id": "m2",
        "role": "follower",
        "term": 4,
        "commit_index": 120,
        "applied_index": 119,
        "rejections": {"stale epoch": 2},
    },
}
DONE_LISTED = {
    "id": "t-done",
    "state": "SUCCEEDED",
    "command": "echo t-done",
    "docker_image": None,
    "timeout_s": 5.0,
    "max_retries": 1,
    "idempotency_key": None,
    "submitted_at": "2023-11-14T22:13:20.000+00:00",
    "finished_at": "2023-11-14T22:13:21.500+00:00",
    "worker_id": "worker-01",
    "exit_code": 0,
    "outcome": "SUCCEEDED",
    "stdout_bytes": 6,
    "stderr_bytes": 0,
    "stdout_truncated": False,
    "stderr_truncated": False,
}
WAITING_LISTED = {
    **DONE_LISTED,
    "id": "t-wait",
    "state": "PENDING",
    "command": "echo t-wait",
    "submitted_at": "2023-11-14T22:13:30.000+00:00",
    "finished_at": None,
    "worker_id": None,
    "exit_code": None,
    "outcome": None,
    "stdout_bytes": 0,
}


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture
def http(fake: FakeClient) -> Iterator[TestClient]:
    with TestClient(create_app(fake, tick_s=0.05)) as client:
        yield client


@pytest.fixture
def guarded(fake: FakeClient) -> Iterator[TestClient]:
    with TestClient(create_app(fake, TOKEN, tick_s=0.05)) as client:
        yield client


def read_events(
    client: TestClient, count: int, url: str = "/api/events"
) -> list[tuple[str | None, Any]]:
    """The first ``count`` events of the stream, as (name, data) pairs."""
    events: list[tuple[str | None, Any]] = []
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
                if len(events) == count:
                    break
    return events


# JSON API -------------------------------------------------------------------
def test_status_is_the_cli_shape_plus_this_replica(http: TestClient) -> None:
    response = http.get("/api/status")

    assert response.status_code == 200
    assert response.json() == STATUS_JSON


def test_tasks_lists_newest_first_without_outputs(
    http: TestClient, fake: FakeClient
) -> None:
    response = http.get("/api/tasks")

    assert response.json() == [WAITING_LISTED, DONE_LISTED]
    assert fake.reads == [(None, 50, True)]


def test_tasks_passes_state_and_limit_as_a_local_read(
    http: TestClient, fake: FakeClient
) -> None:
    response = http.get("/api/tasks", params={"state": "succeeded", "limit": "0"})

    assert response.json() == [DONE_LISTED]
    assert fake.reads == [("SUCCEEDED", 0, True)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"state": "DONE"}, "unknown state 'DONE'"),
        ({"limit": "ten"}, "limit must be a whole number, not 'ten'"),
        ({"limit": "-1"}, "limit must be 0 (all) or more"),
    ],
)
def test_bad_task_queries_are_400(
    http: TestClient, query: dict[str, str], message: str
) -> None:
    response = http.get("/api/tasks", params=query)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "message": message}


def test_task_is_the_get_shape_with_attempts_and_output(http: TestClient) -> None:
    response = http.get("/api/tasks/t-done")

    assert response.json() == {
        **DONE_LISTED,
        "stdout": "hello\n",
        "stderr": "",
        "attempts": [
            {
                "number": 1,
                "worker_id": "worker-01",
                "outcome": "SUCCEEDED",
                "exit_code": 0,
                "signal": None,
                "started_at": "2023-11-14T22:13:20.500+00:00",
                "finished_at": "2023-11-14T22:13:21.500+00:00",
                "error": None,
                "opened_by_epoch": 4,
                "opened_in_epoch": 4,
                "ended_by_epoch": 4,
                "ended_in_epoch": 4,
            }
        ],
    }


def test_unknown_task_is_404_json(http: TestClient) -> None:
    response = http.get("/api/tasks/nope")

    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "no task with id 'nope'",
    }


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NoLeader("no leader elected yet"), "no_leader"),
        (Unreachable("127.0.0.1:50052 timed out"), "unreachable"),
    ],
)
def test_a_manager_that_cannot_answer_is_503(
    http: TestClient, fake: FakeClient, error: TitanError, code: str
) -> None:
    fake.status_error = error

    response = http.get("/api/status")

    assert response.status_code == 503
    assert response.json() == {"error": code, "message": str(error)}


def test_an_unreachable_replica_is_503(http: TestClient, fake: FakeClient) -> None:
    fake.info_error = Unreachable("127.0.0.1:50052 connection failed")

    response = http.get("/api/status")

    assert response.status_code == 503
    assert response.json() == {
        "error": "unreachable",
        "message": "127.0.0.1:50052 connection failed",
    }


# Auth -----------------------------------------------------------------------
GUARDED = ["/api/status", "/api/tasks", "/api/tasks/t-done", "/metrics"]


@pytest.mark.parametrize("path", GUARDED)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
)
def test_without_the_token_the_api_is_401(
    guarded: TestClient, path: str, headers: dict[str, str]
) -> None:
    response = guarded.get(path, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": "unauthenticated",
        "message": "missing or wrong bearer token",
    }


@pytest.mark.parametrize("path", GUARDED)
def test_with_the_token_the_api_answers(guarded: TestClient, path: str) -> None:
    response = guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200


def test_healthz_and_the_page_shell_need_no_token(guarded: TestClient) -> None:
    health = guarded.get("/healthz")
    page = guarded.get("/")
    script = guarded.get("/static/dashboard.js")

    assert (health.status_code, health.text) == (200, "ok")
    assert page.status_code == 200
    assert "<title>Titan HA</title>" in page.text
    assert script.status_code == 200


def test_only_the_event_stream_accepts_a_query_token(guarded: TestClient) -> None:
    assert guarded.get(f"/api/status?token={TOKEN}").status_code == 401
    assert guarded.get("/api/events?token=wrong").status_code == 401

    events = read_events(guarded, 1, f"/api/events?token={TOKEN}")

    assert events[0][0] == "status"


# Metrics --------------------------------------------------------------------
def test_metrics_are_computed_on_scrape(http: TestClient, fake: FakeClient) -> None:
    first = http.get("/metrics")
    fake.info = {**fake.info, "role": "leader", "term": 5}
    second = http.get("/metrics").text.splitlines()

    assert first.headers["content-type"].startswith("text/plain")
    lines = first.text.splitlines()
    for sample in [
        'titan_tasks{state="PENDING"} 1.0',
        'titan_tasks{state="RUNNING"} 0.0',
        'titan_tasks{state="SUCCEEDED"} 1.0',
        'titan_tasks{state="FAILED"} 0.0',
        'titan_tasks{state="CANCELLED"} 0.0',
        'titan_workers{state="IDLE"} 1.0',
        'titan_workers{state="BUSY"} 0.0',
        'titan_workers{state="DEAD"} 1.0',
        'titan_workers{state="DRAINING"} 0.0',
        "titan_raft_term 4.0",
        "titan_raft_commit_index 120.0",
        "titan_raft_applied_index 119.0",
        "titan_is_leader 0.0",
        'titan_state_rejections_total{reason="stale epoch"} 2.0',
        "# TYPE titan_state_rejections_total counter",
    ]:
        assert sample in lines
    assert "titan_raft_term 5.0" in second
    assert "titan_is_leader 1.0" in second


def test_a_failed_source_leaves_its_metrics_out(
    http: TestClient, fake: FakeClient
) -> None:
    fake.status_error = Unreachable("down")

    response = http.get("/metrics")

    assert response.status_code == 200
    assert "titan_raft_term 4.0" in response.text.splitlines()
    assert "titan_tasks" not in response.text


# Events ---------------------------------------------------------------------
def test_events_start_with_status_then_every_task_oldest_first(
    http: TestClient,
) -> None:
    events = read_events(http, 3)

    assert events == [
        ("status", STATUS_JSON),
        ("task", DONE_LISTED),
        ("task", WAITING_LISTED),
    ]


def test_events_report_unavailable_when_the_replica_cannot_be_read(
    http: TestClient, fake: FakeClient
) -> None:
    fake.status_error = NoLeader("no leader elected yet")

    events = read_events(http, 1)

    assert events == [
        ("unavailable", {"error": "no_leader", "message": "no leader elected yet"})
    ]


def test_task_changes_report_only_new_and_changed_states() -> None:
    changes = TaskChanges()
    first = [WAITING_LISTED, DONE_LISTED]
    running = {**WAITING_LISTED, "state": "RUNNING"}
    newer = {**WAITING_LISTED, "id": "t-new"}

    assert changes.update(first) == first
    assert changes.update(first) == []
    assert changes.update([newer, running, DONE_LISTED]) == [newer, running]


def test_open_streams_share_one_read_per_tick(fake: FakeClient) -> None:
    app = create_app(fake, tick_s=60.0)
    with TestClient(app) as client:
        read_events(client, 1)
        read_events(client, 1)

    assert fake.status_calls == 1
