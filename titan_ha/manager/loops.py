"""Leader-only background loops, fenced by the epoch they were started in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from titan_ha.manager.commands import Command, Result

Propose = Callable[[Command], Result]


class LeaderLoop:
    """Calls ``tick`` every ``period_s`` from start until stop.

    Subclasses implement ``tick(epoch, propose, gap_s)``, where ``gap_s`` is
    the time since the previous tick: much more than the period means this
    process was paused.
    """

    name = "leader-loop"

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, epoch: int, propose: Propose) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(epoch, propose, self._stop),
            name=self.name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self, epoch: int, propose: Propose, stop: threading.Event) -> None:
        last = time.monotonic()
        while not stop.wait(self.period_s):
            now = time.monotonic()
            self.tick(epoch, propose, now - last)
            last = now

    def tick(self, epoch: int, propose: Propose, gap_s: float) -> None:
        raise NotImplementedError
