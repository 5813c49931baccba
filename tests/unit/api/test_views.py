"""The JSON shapes the CLI and dashboard print, built from protobuf replies."""

from __future__ import annotations

from titan_ha._proto import titan_pb2 as pb
from titan_ha.api.views import ClusterStatus, TaskView


def test_a_key_the_client_made_up_shows_as_null() -> None:
    auto = TaskView.from_proto(
        pb.Task(id="t", spec=pb.TaskSpec(command="true", idempotency_key="auto-3f2a"))
    )
    given = TaskView.from_proto(
        pb.Task(id="t", spec=pb.TaskSpec(command="true", idempotency_key="nightly-42"))
    )
    assert auto.to_json()["idempotency_key"] is None
    assert given.to_json()["idempotency_key"] == "nightly-42"


def test_a_listing_counts_attempts_it_does_not_carry() -> None:
    listed = TaskView.from_proto(pb.Task(id="t", attempt_count=3))
    assert listed.attempt_count == 3
    assert listed.attempts == ()


def test_attempt_json_has_the_contract_fields_the_error_and_the_epochs() -> None:
    task = TaskView.from_proto(
        pb.Task(
            id="t",
            attempts=[
                pb.Attempt(
                    number=1,
                    worker_id="w",
                    outcome="ERROR",
                    error="cannot start",
                    opened_by_epoch=3,
                    opened_in_epoch=4,
                    ended_by_epoch=-1,
                    ended_in_epoch=4,
                ),
                pb.Attempt(number=2, worker_id="w", opened_by_epoch=4),
            ],
        )
    )
    assert task.to_json()["attempts"] == [
        {
            "number": 1,
            "worker_id": "w",
            "outcome": "ERROR",
            "exit_code": None,
            "signal": None,
            "started_at": None,
            "finished_at": None,
            "error": "cannot start",
            "opened_by_epoch": 3,
            "opened_in_epoch": 4,
            "ended_by_epoch": -1,
            "ended_in_epoch": 4,
        },
        {
            "number": 2,
            "worker_id": "w",
            "outcome": None,
            "exit_code": None,
            "signal": None,
            "started_at": None,
            "finished_at": None,
            "error": None,
            "opened_by_epoch": 4,
            "opened_in_epoch": None,
            "ended_by_epoch": None,
            "ended_in_epoch": None,
        },
    ]


def test_unreachable_managers_have_no_indexes() -> None:
    status = ClusterStatus.from_proto(
        pb.StatusReply(
            managers=[
                pb.ManagerInfo(
                    id="m1", grpc="h:1", role="leader", commit_index=7, applied_index=7
                ),
                pb.ManagerInfo(id="m2", grpc="h:2", role="unreachable"),
            ]
        )
    )
    assert status.to_json()["managers"] == [
        {
            "id": "m1",
            "grpc": "h:1",
            "role": "leader",
            "commit_index": 7,
            "applied_index": 7,
        },
        {
            "id": "m2",
            "grpc": "h:2",
            "role": "unreachable",
            "commit_index": None,
            "applied_index": None,
        },
    ]
    assert status.to_json()["leader"] is None
