"""What every executor takes and returns: one attempt in, one result out.

An executor runs one attempt of a task to its end on this worker and says
how it ended. It never talks to a manager; the runner reports the result.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from titan_ha.models import Outcome
from titan_ha.worker.output import CapturedOutput


@dataclass(frozen=True)
class AttemptSpec:
    """One attempt to run.

    Attributes:
        task_id: The task this attempt belongs to.
        attempt: The attempt number, from 1.
        command: The command line, run by the executor's shell or image.
        timeout_s: Seconds the attempt may run before it is killed and ends
            TIMED_OUT; 0 means no limit.
        env: Variables added to the executor's environment, if any.
    """

    task_id: str
    attempt: int
    command: str
    timeout_s: float
    env: Mapping[str, str] | None = None


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended.

    Attributes:
        outcome: SUCCEEDED, FAILED, TIMED_OUT, CANCELLED or ERROR (an
            executor may add OOM_KILLED).
        exit_code: The exit status; 128 + N when killed by signal N; None
            when the command never started.
        signal: The name of the signal that killed the command, e.g.
            "SIGKILL", or None.
        stdout: What was kept of standard output.
        stderr: What was kept of standard error.
        started_at: Unix time when the attempt started.
        finished_at: Unix time when it ended.
        error: Why the attempt could not run (outcome ERROR), else "".
    """

    outcome: Outcome
    exit_code: int | None
    signal: str | None
    stdout: CapturedOutput
    stderr: CapturedOutput
    started_at: float
    finished_at: float
    error: str = ""


def exit_status(returncode: int) -> tuple[int, str | None]:
    """Maps a `subprocess` return code to the contract's exit code and signal.

    Args:
        returncode: The exit status, or -N when signal N killed the process.

    Returns:
        `(exit_code, signal)`: `(status, None)` for an exit, `(128 + N,
        "SIGKILL")` (etc.) for a death by signal N.
    """
    if returncode >= 0:
        return returncode, None
    signum = -returncode
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"SIG{signum}"
    return 128 + signum, name


class Executor(Protocol):
    """Runs attempts; one instance may run several at once from threads."""

    def run(self, spec: AttemptSpec, stop: threading.Event) -> AttemptResult:
        """Runs one attempt to its end and returns how it ended.

        Args:
            spec: What to run.
            stop: Set by the caller to end the attempt at once (cancel,
                shutdown or self-fencing); the attempt then ends CANCELLED.

        Returns:
            The result. Failures of the command, including failure to start
            it, are results, not exceptions.
        """
        ...
