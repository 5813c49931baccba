"""Conversions between replicated records and protobuf messages."""

from __future__ import annotations

from titan_ha._proto import titan_pb2 as pb
from titan_ha.manager.records import AttemptRecord, TaskRecord, TaskSpecRecord


def spec_to_proto(spec: TaskSpecRecord) -> pb.TaskSpec:
    return pb.TaskSpec(
        command=spec.command,
        timeout_s=spec.timeout_s,
        max_retries=spec.max_retries,
        idempotency_key=spec.idempotency_key,
        docker_image=spec.docker_image,
        cpus=spec.cpus,
        memory_bytes=spec.memory_bytes,
        network=spec.network,
    )


def spec_from_proto(spec: pb.TaskSpec) -> dict[str, object]:
    """The ``spec`` of a submit command."""
    return {
        "command": spec.command,
        "timeout_s": spec.timeout_s,
        "max_retries": spec.max_retries,
        "idempotency_key": spec.idempotency_key,
        "docker_image": spec.docker_image,
        "cpus": spec.cpus,
        "memory_bytes": spec.memory_bytes,
        "network": spec.network,
    }


def attempt_to_proto(attempt: AttemptRecord) -> pb.Attempt:
    return pb.Attempt(
        number=attempt.number,
        worker_id=attempt.worker_id,
        outcome=attempt.outcome,
        has_exit_code=attempt.exit_code is not None,
        exit_code=attempt.exit_code or 0,
        signal=attempt.signal,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
        error=attempt.error,
        opened_by_epoch=attempt.opened_by_epoch,
        opened_in_epoch=attempt.opened_in_epoch,
        ended_by_epoch=attempt.ended_by_epoch,
        ended_in_epoch=attempt.ended_in_epoch,
    )


def task_to_proto(task: TaskRecord, with_output: bool = True) -> pb.Task:
    """A task as the API shows it; call with the state lock held."""
    last = task.last_attempt
    message = pb.Task(
        id=task.id,
        seq=task.seq,
        state=task.state.value,
        spec=spec_to_proto(task.spec),
        submitted_at=task.submitted_at,
        finished_at=task.finished_at,
        worker_id=last.worker_id if last else "",
        has_exit_code=last is not None and last.exit_code is not None,
        exit_code=(last.exit_code or 0) if last else 0,
        outcome=last.outcome if last else "",
        stdout_bytes=task.stdout.total_bytes,
        stderr_bytes=task.stderr.total_bytes,
        stdout_truncated=task.stdout.truncated,
        stderr_truncated=task.stderr.truncated,
        attempt_count=len(task.attempts),
    )
    if with_output:
        message.stdout = task.stdout.text
        message.stderr = task.stderr.text
        message.attempts.extend(attempt_to_proto(a) for a in task.attempts)
    return message
