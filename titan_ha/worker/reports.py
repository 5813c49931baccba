"""What a worker sends the leader about an attempt, and how it retries."""

from __future__ import annotations

import random
import time

from titan_ha._proto import titan_pb2 as pb
from titan_ha.models import Outcome
from titan_ha.worker.executors.base import AttemptResult, AttemptSpec
from titan_ha.worker.output import CapturedOutput


def report_request(
    worker_id: str,
    incarnation: str,
    spec: AttemptSpec,
    result: AttemptResult,
    outcome: Outcome,
) -> pb.ReportRequest:
    """The result report of one attempt, as its worker incarnation sends it."""
    return pb.ReportRequest(
        worker_id=worker_id,
        incarnation=incarnation,
        task_id=spec.task_id,
        attempt=spec.attempt,
        outcome=outcome.value,
        has_exit_code=result.exit_code is not None,
        exit_code=result.exit_code or 0,
        signal=result.signal or "",
        stdout=result.stdout.text,
        stderr=result.stderr.text,
        stdout_bytes=result.stdout.total_bytes,
        stderr_bytes=result.stderr.total_bytes,
        stdout_truncated=result.stdout.truncated,
        stderr_truncated=result.stderr.truncated,
        started_at=result.started_at,
        finished_at=result.finished_at,
        error=result.error,
    )


def cannot_run(why: str) -> AttemptResult:
    """The result of an attempt that could not start."""
    now = time.time()
    empty = CapturedOutput(text="", total_bytes=0, truncated=False)
    return AttemptResult(Outcome.ERROR, None, None, empty, empty, now, now, why)


def backoff_s(failures: int) -> float:
    """Exponential backoff with full jitter, from 0.1 s up to 2 s."""
    return random.uniform(0.05, min(2.0, 0.1 * 2 ** min(failures, 5)))
