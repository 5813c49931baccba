"""Real work on a real 3-manager, 2-worker cluster, through the CLI and the API."""

from __future__ import annotations

import json
import time

import pytest
from conftest import Harness, processes_matching

from titan_ha.api.views import TaskSpec

pytestmark = pytest.mark.integration


def test_echo_succeeds_within_two_seconds(shared_cluster: Harness) -> None:
    started = time.monotonic()
    submitted = shared_cluster.titan("submit", "--command=echo hello")
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    assert len(task_id) == 16
    while True:
        shown = shared_cluster.titan("get", f"--id={task_id}", "--json")
        task = json.loads(shown.stdout)
        if task["state"] == "SUCCEEDED" or time.monotonic() - started > 2.0:
            break
    assert time.monotonic() - started <= 2.5
    assert task["state"] == "SUCCEEDED"
    assert task["exit_code"] == 0
    assert task["stdout"] == "hello\n"
    assert task["stdout_bytes"] == 6
    assert task["stderr"] == ""
    assert [a["outcome"] for a in task["attempts"]] == ["SUCCEEDED"]


def test_failing_command_is_retried_then_failed(shared_cluster: Harness) -> None:
    result = shared_cluster.titan(
        "submit", "--command=exit 3", "--max-retries=2", "--wait", "--json"
    )
    assert result.returncode == 1
    task = json.loads(result.stdout)
    assert task["state"] == "FAILED"
    assert [a["number"] for a in task["attempts"]] == [1, 2, 3]
    assert [a["exit_code"] for a in task["attempts"]] == [3, 3, 3]
    assert [a["outcome"] for a in task["attempts"]] == ["FAILED"] * 3


def test_success_on_third_run_stops_retrying(shared_cluster: Harness, tmp_path) -> None:
    counter = tmp_path / "runs"
    command = f"echo run >> {counter}; test $(wc -l < {counter}) -ge 3"
    task_id, _ = shared_cluster.client.submit(TaskSpec(command=command, max_retries=5))
    task = shared_cluster.client.wait(task_id, timeout_s=15)
    assert task.state == "SUCCEEDED"
    assert [a.outcome for a in task.attempts] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert counter.read_text() == "run\n" * 3


def test_timeout_kills_the_command(shared_cluster: Harness) -> None:
    started = time.monotonic()
    result = shared_cluster.titan(
        "submit", "--command=sleep 30.0417", "--timeout=1", "--wait", "--json"
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    task = json.loads(result.stdout)
    assert task["state"] == "FAILED"
    assert task["attempts"][0]["outcome"] == "TIMED_OUT"
    assert elapsed < 3.0
    assert processes_matching("sleep 30.0417") == []


def test_idempotency_key_creates_one_task(shared_cluster: Harness) -> None:
    first = shared_cluster.titan("submit", "--command=true", "--idempotency-key=k-42")
    second = shared_cluster.titan("submit", "--command=true", "--idempotency-key=k-42")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    listed = json.loads(shared_cluster.titan("tasks", "--json", "--limit=0").stdout)
    assert [t["id"] for t in listed].count(first.stdout.strip()) == 1
    assert [t["idempotency_key"] for t in listed].count("k-42") == 1


def test_status_names_one_leader_and_the_workers(shared_cluster: Harness) -> None:
    result = shared_cluster.titan("status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    roles = sorted(m["role"] for m in status["managers"])
    assert roles == ["follower", "follower", "leader"]
    leader = next(m["id"] for m in status["managers"] if m["role"] == "leader")
    assert status["leader"] == leader
    assert sorted(w["id"] for w in status["workers"]) == ["worker-01", "worker-02"]
    assert set(status["tasks"]) == {
        "PENDING",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
    }


def test_tasks_lists_newest_first(shared_cluster: Harness) -> None:
    ids = [
        shared_cluster.client.submit(TaskSpec(command=f"echo {i}"))[0] for i in range(3)
    ]
    listed = json.loads(shared_cluster.titan("tasks", "--json", "--limit=3").stdout)
    assert [t["id"] for t in listed] == ids[::-1]
    assert "stdout" not in listed[0]
    assert "attempts" not in listed[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "--command="], "--command"),
        (["submit", "--command=true", "--timeout=-1"], "--timeout"),
        (["submit", "--command=true", "--frobnicate"], "--frobnicate"),
        (["submit"], "--command"),
    ],
)
def test_malformed_input_is_one_line_and_exit_2(
    shared_cluster: Harness, args: list[str], message: str
) -> None:
    result = shared_cluster.titan(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_unknown_id_exits_5(shared_cluster: Harness) -> None:
    result = shared_cluster.titan("get", "--id=does-not-exist")
    assert result.returncode == 5
    assert result.stderr.strip() == "error: no task with id 'does-not-exist'"


def test_no_reachable_manager_exits_3_quickly(shared_cluster: Harness) -> None:
    started = time.monotonic()
    result = shared_cluster.titan(
        "submit", "--command=true", managers="127.0.0.1:9,127.0.0.1:11"
    )
    assert result.returncode == 3
    assert time.monotonic() - started < 3.0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no manager reachable" in result.stderr


def test_follower_redirects_to_the_leader(shared_cluster: Harness) -> None:
    import grpc

    from titan_ha._proto import titan_pb2 as pb
    from titan_ha._proto import titan_pb2_grpc as pb_grpc

    leader = shared_cluster.cluster.manager_spec(shared_cluster.leader())
    follower = next(
        m for m in shared_cluster.cluster.config.managers if m.id != leader.id
    )
    with grpc.insecure_channel(follower.grpc) as channel:
        stub = pb_grpc.ManagerStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Submit(pb.SubmitRequest(spec=pb.TaskSpec(command="true")), timeout=2)
    error = caught.value
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    metadata = dict(error.trailing_metadata())
    assert metadata["titan-leader"] == leader.grpc
    assert metadata["titan-leader-id"] == leader.id
