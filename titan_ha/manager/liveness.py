"""Soft, leader-local worker liveness: when each worker was last heard from.

Kept in the leader's memory on the monotonic clock, never replicated and
never taken from a worker's own timestamp. A new leader starts every clock
at its takeover, so a failover never reaps a healthy fleet.
"""

from __future__ import annotations

import threading
import time


class Liveness:
    """Last-seen times of workers, on this process's monotonic clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._epoch_start = time.monotonic()

    def reset(self) -> None:
        """Forgets everything: every worker's clock starts now."""
        with self._lock:
            self._seen.clear()
            self._epoch_start = time.monotonic()

    def touch(self, worker_id: str) -> None:
        with self._lock:
            self._seen[worker_id] = time.monotonic()

    def silent_for_s(self, worker_id: str) -> float:
        """Seconds since the worker was heard from (or since takeover)."""
        with self._lock:
            last = self._seen.get(worker_id, self._epoch_start)
        return time.monotonic() - last
