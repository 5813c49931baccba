"""Runs an attempt as `/bin/sh -c COMMAND` on this worker.

The command gets its own session and process group, stdin from /dev/null,
and the worker's environment plus the attempt's variables, TITAN_TASK_ID and
TITAN_ATTEMPT. Both output pipes are drained while it runs, so a command
writing gigabytes never stalls; what is kept is capped (`StreamCapture`).

The attempt ends when the shell process exits, times out or is stopped, not
when its pipes close. Then every other process of the attempt is killed,
after a normal exit too: nothing an attempt started outlives it. A process
belongs to the attempt when it is in the attempt's process group, descends
from its shell, or carries its TITAN_TASK_ID and TITAN_ATTEMPT in its
environment.

What escapes: a process that left the group (`setsid`), lost its parent
link to the shell (its parent exited) *and* dropped or changed those
variables (`env -i`, daemons that scrub their environment); a process of
another user whose environment cannot be read or that cannot be signalled.
Once the shell is reaped the executor reads its pipes only for a short
drain, so an escaped process holding a pipe open cannot keep the attempt
alive. The shell is always reaped here; orphaned grandchildren are reaped by
init or the nearest subreaper.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time

from titan_ha.models import OUTPUT_CAP_BYTES, Outcome
from titan_ha.worker.executors.base import AttemptResult, AttemptSpec, exit_status
from titan_ha.worker.executors.process_tree import TICK_S, ProcessTree
from titan_ha.worker.output import EMPTY_OUTPUT, OutputPipes

logger = logging.getLogger(__name__)

# The shell gets SIGKILL if the worker dies: a killed worker's attempt must
# not run on unseen while the task is rerun elsewhere. (setpriv comes with
# util-linux; its exec keeps the pid, so the process tree is unchanged.)
_SETPRIV = shutil.which("setpriv")
DIE_WITH_WORKER = (_SETPRIV, "--pdeathsig", "KILL", "--") if _SETPRIV else ()


class ShellExecutor:
    """Runs attempts with the system shell; safe to share between threads.

    Args:
        kill_grace_s: Seconds between SIGTERM and SIGKILL when killing an
            attempt's processes.
        drain_s: Seconds to keep reading output after the shell is reaped,
            for data still in the pipes.
        output_cap_bytes: Most bytes of text kept per stream.
    """

    def __init__(
        self,
        kill_grace_s: float = 0.5,
        drain_s: float = 0.25,
        output_cap_bytes: int = OUTPUT_CAP_BYTES,
    ) -> None:
        self._kill_grace_s = kill_grace_s
        self._drain_s = drain_s
        self._output_cap_bytes = output_cap_bytes

    def run(self, spec: AttemptSpec, stop: threading.Event) -> AttemptResult:
        """Runs `spec.command` to its end; see the module docstring.

        Args:
            spec: What to run.
            stop: Set to kill the attempt at once; it then ends CANCELLED.

        Returns:
            The result: SUCCEEDED or FAILED by exit status, TIMED_OUT,
            CANCELLED, or ERROR when the shell could not be started.
        """
        tag = {"TITAN_TASK_ID": spec.task_id, "TITAN_ATTEMPT": str(spec.attempt)}
        env = {**os.environ, **(spec.env or {}), **tag}
        started_at = time.time()
        try:
            proc = subprocess.Popen(
                [*DIE_WITH_WORKER, "/bin/sh", "-c", spec.command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            # Nothing ran, so nothing needs cleaning up; the runner reports
            # ERROR and the task is retried or failed like any failure.
            logger.warning(
                "attempt could not start task_id=%s attempt=%d error=%s",
                spec.task_id,
                spec.attempt,
                exc,
            )
            return AttemptResult(
                outcome=Outcome.ERROR,
                exit_code=None,
                signal=None,
                stdout=EMPTY_OUTPUT,
                stderr=EMPTY_OUTPUT,
                started_at=started_at,
                finished_at=time.time(),
                error=f"cannot start /bin/sh: {exc}",
            )
        logger.debug(
            "attempt started task_id=%s attempt=%d pid=%d",
            spec.task_id,
            spec.attempt,
            proc.pid,
        )
        pipes = OutputPipes(proc, self._output_cap_bytes)
        try:
            tree = ProcessTree(proc.pid, tag)
            cause = _wait_for_end(proc.pid, spec.timeout_s, stop, pipes)
            if cause is not None:
                logger.info(
                    "killing attempt task_id=%s attempt=%d cause=%s",
                    spec.task_id,
                    spec.attempt,
                    cause,
                )
            leftovers = tree.kill(self._kill_grace_s, pipes.pump)
            if cause is None and leftovers:
                logger.warning(
                    "killed processes left behind task_id=%s attempt=%d count=%d",
                    spec.task_id,
                    spec.attempt,
                    leftovers,
                )
            returncode = proc.wait()
            if not pipes.drain(self._drain_s):
                logger.warning(
                    "output still held open task_id=%s attempt=%d; stopped reading",
                    spec.task_id,
                    spec.attempt,
                )
        except BaseException:
            # A bug or an interrupt: the attempt's processes must still die
            # and the shell be reaped before the error goes up.
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pipes.close()
            raise
        stdout, stderr = pipes.close()
        outcome, exit_code, signal_name = _classify(returncode, cause)
        return AttemptResult(
            outcome, exit_code, signal_name, stdout, stderr, started_at, time.time()
        )


def _wait_for_end(
    pid: int, timeout_s: float, stop: threading.Event, pipes: OutputPipes
) -> Outcome | None:
    """Drains output until the shell exits (None), is stopped or times out."""
    deadline = time.monotonic() + timeout_s if timeout_s > 0 else None
    while not _has_exited(pid):
        if stop.is_set():
            return Outcome.CANCELLED
        wait_s = TICK_S
        if deadline is not None:
            wait_s = min(wait_s, deadline - time.monotonic())
            if wait_s <= 0:
                return Outcome.TIMED_OUT
        if pipes.open:
            pipes.pump(wait_s)
        else:
            stop.wait(wait_s)
    return None


def _has_exited(pid: int) -> bool:
    """True once `pid` has exited, without reaping it (its group id stays ours)."""
    try:
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        return os.waitid(os.P_PID, pid, flags) is not None
    except ChildProcessError:
        return True


def _classify(
    returncode: int, cause: Outcome | None
) -> tuple[Outcome, int, str | None]:
    exit_code, signal_name = exit_status(returncode)
    if cause is None:
        cause = Outcome.SUCCEEDED if exit_code == 0 else Outcome.FAILED
    return cause, exit_code, signal_name
