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

import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

import psutil

from titan_ha.models import OUTPUT_CAP_BYTES, Outcome
from titan_ha.worker.executors.base import AttemptResult, AttemptSpec
from titan_ha.worker.output import EMPTY_OUTPUT, CapturedOutput, StreamCapture

logger = logging.getLogger(__name__)

_TICK_S = 0.02
_READ_BYTES = 64 * 1024
# SIGKILL cannot be caught; a process still there after this is stuck in
# the kernel (uninterruptible sleep) and needs a person.
_SIGKILL_WAIT_S = 2.0


class _Pipes:
    """Reads stdout and stderr into captures as data arrives, never blocking."""

    def __init__(self, pipes: tuple[IO[bytes], IO[bytes]], cap_bytes: int) -> None:
        self._selector = selectors.DefaultSelector()
        self._captures = (StreamCapture(cap_bytes), StreamCapture(cap_bytes))
        for pipe, capture in zip(pipes, self._captures, strict=True):
            os.set_blocking(pipe.fileno(), False)
            self._selector.register(pipe, selectors.EVENT_READ, capture)

    @property
    def open(self) -> bool:
        return bool(self._selector.get_map())

    def pump(self, wait_s: float) -> None:
        """Reads what is available, waiting up to `wait_s` for something."""
        if not self.open:
            time.sleep(wait_s)
            return
        for key, _ in self._selector.select(wait_s):
            try:
                data = os.read(key.fd, _READ_BYTES)
            except BlockingIOError:
                continue
            if data:
                key.data.feed(data)
            else:
                self._selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]

    def drain(self, drain_s: float) -> bool:
        """Reads until both pipes close or `drain_s` passes; True if closed."""
        deadline = time.monotonic() + drain_s
        while self.open and (left_s := deadline - time.monotonic()) > 0:
            self.pump(min(_TICK_S, left_s))
        return not self.open

    def close(self) -> tuple[CapturedOutput, CapturedOutput]:
        for key in list(self._selector.get_map().values()):
            self._selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()
        return self._captures[0].finish(), self._captures[1].finish()


class _ProcessTree:
    """Finds and kills the live processes of one attempt."""

    def __init__(self, pid: int, tag: dict[str, str]) -> None:
        self._pid = pid
        self._tag = tag
        # Same clock as every other create_time: nothing of the attempt is
        # older than its shell.
        self._not_before = psutil.Process(pid).create_time()

    def members(self) -> list[psutil.Process]:
        """Live (non-zombie) processes of the attempt, shell included."""
        procs: dict[int, psutil.Process] = {}
        children: dict[int, list[int]] = {}
        found: set[int] = set()
        for proc in psutil.process_iter(["ppid", "create_time", "status"]):
            info = proc.info
            if proc.pid == os.getpid() or (
                info["create_time"] or 0.0
            ) < self._not_before:
                continue
            children.setdefault(info["ppid"], []).append(proc.pid)
            if info["status"] != psutil.STATUS_ZOMBIE:
                procs[proc.pid] = proc
                if self._in_group(proc.pid) or self._is_tagged(proc):
                    found.add(proc.pid)
        # A zombie is never a member, but its children are still walked.
        stack = [self._pid]
        while stack:
            for pid in children.get(stack.pop(), []):
                found.add(pid)
                stack.append(pid)
        return [procs[pid] for pid in found if pid in procs]

    def _in_group(self, pid: int) -> bool:
        try:
            return os.getpgid(pid) == self._pid
        except OSError:
            return False

    def _is_tagged(self, proc: psutil.Process) -> bool:
        try:
            env = proc.environ()
        except psutil.Error:
            return False
        return all(env.get(key) == value for key, value in self._tag.items())

    def kill(self, grace_s: float, pump: Callable[[float], None]) -> int:
        """Ends every process of the attempt, pumping the pipes meanwhile.

        SIGTERM first, SIGKILL to whatever is left after `grace_s`. The tree
        is swept again every tick, so a process forked or re-parented during
        the kill is found and signalled too.

        Returns:
            How many processes were signalled.
        """
        termed: set[int] = set()
        killed: set[int] = set()
        term_until = time.monotonic() + grace_s
        while members := self.members():
            now = time.monotonic()
            if now < term_until:
                sig, done = signal.SIGTERM, termed
            elif now < term_until + _SIGKILL_WAIT_S:
                if not killed and termed:
                    logger.warning(
                        "processes outlived sigterm pgid=%d count=%d; sending sigkill",
                        self._pid,
                        len(members),
                    )
                sig, done = signal.SIGKILL, killed
            else:
                logger.error(
                    "processes survived sigkill pgid=%d pids=%s",
                    self._pid,
                    sorted(p.pid for p in members),
                )
                break
            self._signal(sig, [p for p in members if p.pid not in done])
            done.update(p.pid for p in members)
            pump(_TICK_S)
        return len(termed | killed)

    def _signal(self, sig: signal.Signals, members: list[psutil.Process]) -> None:
        if not members:
            return
        # The group's leader is not reaped yet, so its id cannot be reused.
        try:
            os.killpg(self._pid, sig)
        except OSError:
            pass  # The group is empty: only escaped members are left.
        for proc in members:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                pass  # It exited meanwhile, which is what we want.
