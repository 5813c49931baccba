"""The checkers: one module per family, each a pure function of ``RunData``.

The run is valid when no checker says invalid; a checker that cannot tell
(``valid`` None) is reported as unknown and does not make the run invalid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jepsen_like.checkers.availability import check_availability
from jepsen_like.checkers.base import CheckResult, RunData, load_run
from jepsen_like.checkers.convergence import check_convergence
from jepsen_like.checkers.epochs import check_stale_epoch
from jepsen_like.checkers.executions import check_duplicates, check_retry_budget
from jepsen_like.checkers.faults import check_nemesis
from jepsen_like.checkers.integrity import check_result_integrity
from jepsen_like.checkers.liveness import check_worker_lost
from jepsen_like.checkers.logs import check_process_logs
from jepsen_like.checkers.processes import check_leaks, check_timeout_bound
from jepsen_like.checkers.queue import check_idempotency, check_lost, check_phantom
from jepsen_like.checkers.reads import check_monotonic_reads

logger = logging.getLogger(__name__)

CHECKERS: tuple[Callable[[RunData], CheckResult], ...] = (
    check_lost,
    check_phantom,
    check_idempotency,
    check_duplicates,
    check_retry_budget,
    check_worker_lost,
    check_result_integrity,
    check_monotonic_reads,
    check_timeout_bound,
    check_leaks,
    check_convergence,
    check_stale_epoch,
    check_availability,
    check_nemesis,
    check_process_logs,
)


def check_all(data: RunData) -> dict[str, CheckResult]:
    """Runs every checker; a checker that crashes is reported unknown."""
    results = {}
    for checker in CHECKERS:
        name = checker.__name__.removeprefix("check_").replace("_", "-")
        try:
            result = checker(data)
        except Exception as exc:
            # A crashing checker proves nothing either way: unknown, and the
            # traceback goes to the log for whoever fixes the harness.
            logger.exception("checker crashed name=%s", name)
            result = CheckResult(name, None, notes=[f"checker crashed: {exc!r}"])
        results[result.name] = result
    return results


def verdict(results: dict[str, CheckResult]) -> dict[str, Any]:
    invalid = sorted(name for name, r in results.items() if r.valid is False)
    unknown = sorted(name for name, r in results.items() if r.valid is None)
    return {"valid": not invalid, "invalid": invalid, "unknown": unknown}


__all__ = ["CHECKERS", "CheckResult", "RunData", "check_all", "load_run", "verdict"]
