"""Linearizable reads: the leader answers after a barrier entry commits.

A barrier that started after a read arrived proves this replica still led
when the read began and has applied everything committed before it. One
barrier serves every read that arrived before it started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from titan_ha.errors import NoLeader


class ReadBarrier:
    """Batches barrier proposals for concurrent readers."""

    def __init__(self, propose_barrier: Callable[[float], None]) -> None:
        self._propose = propose_barrier
        self._cond = threading.Condition()
        self._started = 0  # barriers started so far
        self._done = 0  # barriers finished (committed or failed)
        self._failed_at = -1  # number of the last barrier that failed
        self._running = False

    def wait(self, timeout_s: float) -> None:
        """Returns once a barrier started after this call has committed.

        Raises:
            NoLeader: the barrier failed (lost leadership, no quorum).
        """
        with self._cond:
            target = self._started + 1
            while self._done < target:
                if not self._running:
                    self._start_locked(timeout_s)
                    continue
                if not self._cond.wait(timeout_s):
                    raise NoLeader("read barrier timed out")
            if self._failed_at >= target:
                raise NoLeader("read barrier failed")

    def _start_locked(self, timeout_s: float) -> None:
        self._running = True
        self._started += 1
        number = self._started
        self._cond.release()
        try:
            self._propose(timeout_s)
            failed = False
        except Exception:
            failed = True
        finally:
            self._cond.acquire()
        self._running = False
        self._done = number
        if failed:
            self._failed_at = number
        self._cond.notify_all()
