"""Finds and kills every live process of one attempt.

A process belongs to the attempt when it is in the attempt's process group,
descends from its shell, or carries the attempt's TITAN_TASK_ID and
TITAN_ATTEMPT in its environment (see ``shell`` for what escapes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

import psutil

# SIGKILL cannot be caught; a process still there after this is stuck in
# the kernel (uninterruptible sleep) and needs a person.
SIGKILL_WAIT_S = 2.0
TICK_S = 0.02
INCARNATION_VAR = "TITAN_WORKER_INCARNATION"

logger = logging.getLogger(__name__)


class ProcessTree:
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
            if (
                proc.pid == os.getpid()
                or (info["create_time"] or 0.0) < self._not_before
            ):
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
        # Counted from the first SIGKILL, not from the start: a worker frozen
        # (SIGSTOP, swap) through the grace must still send it on waking.
        kill_until: float | None = None
        while members := self.members():
            now = time.monotonic()
            if now < term_until:
                sig, done = signal.SIGTERM, termed
            elif kill_until is None or now < kill_until:
                if kill_until is None:
                    kill_until = now + SIGKILL_WAIT_S
                    if termed:
                        logger.warning(
                            "processes outlived sigterm pgid=%d count=%d; "
                            "sending sigkill",
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
            # Pump for the whole tick: output may wake `pump` much sooner.
            tick_end = time.monotonic() + TICK_S
            while (left_s := tick_end - time.monotonic()) > 0:
                pump(left_s)
        return len(termed | killed)

    def _signal(self, sig: signal.Signals, members: list[psutil.Process]) -> None:
        if not members:
            return
        # The group's leader is not reaped yet, so its id cannot be reused.
        # The group may be empty already: then only escaped members are left.
        with contextlib.suppress(OSError):
            os.killpg(self._pid, sig)
        for proc in members:
            # A process that exited meanwhile is what we want anyway.
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)


def kill_leftovers(tag: dict[str, str], incarnation: str) -> int:
    """Kills processes an earlier incarnation of this worker left running.

    A process is a leftover when its environment carries every item of
    ``tag`` (the worker's id and cluster) and another incarnation. Returns
    how many were killed.
    """
    leftovers = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
        except psutil.Error:
            continue  # gone, or not ours to read
        if any(env.get(key) != value for key, value in tag.items()):
            continue
        if env.get(INCARNATION_VAR, incarnation) != incarnation:
            leftovers.append(proc)
    for proc in leftovers:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return len(leftovers)
