"""The reaper (leader only): declares silent workers DEAD.

A worker silent for longer than ``dead_after_s`` on the leader's monotonic
clock is reaped: its running attempts end WORKER_LOST and their tasks are
requeued, or failed once their worker-lost budget is spent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from titan_ha.errors import TitanError
from titan_ha.manager.liveness import Liveness
from titan_ha.manager.loops import LeaderLoop, Propose
from titan_ha.manager.state import ClusterState

logger = logging.getLogger(__name__)

# A reaper tick later than this beyond its period means this process stalled.
STALL_GRACE_S = 1.0


class Reaper(LeaderLoop):
    """Checks worker liveness a few times per second while this node leads."""

    name = "reaper"

    def __init__(
        self,
        state: ClusterState,
        liveness: Liveness,
        dead_after_s: float,
        on_requeue: Callable[[], None],
        period_s: float = 0.2,
    ) -> None:
        super().__init__(period_s)
        self._state = state
        self._liveness = liveness
        self._dead_after_s = dead_after_s
        self.on_requeue = on_requeue

    def silent_workers(self) -> list[tuple[str, str]]:
        """(worker id, incarnation) of live workers silent for too long."""
        with self._state.lock:
            live = [
                (w.id, w.incarnation)
                for w in self._state.workers.values()
                if not w.dead
            ]
        return [
            (worker_id, incarnation)
            for worker_id, incarnation in live
            if self._liveness.silent_for_s(worker_id) > self._dead_after_s
        ]

    def tick(self, epoch: int, propose: Propose, gap_s: float) -> None:
        if gap_s > self.period_s + STALL_GRACE_S:
            # This process was paused (SIGSTOP, swap, a long GC): nobody
            # could have reached it meanwhile, so silence proves nothing.
            logger.warning(
                "reaper stalled, granting workers grace stalled_s=%.1f", gap_s
            )
            self._liveness.reset()
            return
        for worker_id, incarnation in self.silent_workers():
            self._reap(epoch, propose, worker_id, incarnation)

    def _reap(
        self, epoch: int, propose: Propose, worker_id: str, incarnation: str
    ) -> None:
        command = {
            "op": "reap",
            "epoch": epoch,
            "worker_id": worker_id,
            "incarnation": incarnation,
            "now": time.time(),
        }
        try:
            result = propose(command)
        except TitanError as exc:
            # Leadership is probably moving; the next leader's reaper takes over.
            logger.warning("reap not committed worker_id=%s error=%s", worker_id, exc)
            return
        if result.get("ok"):
            logger.info(
                "worker dead worker_id=%s silent_s=%.1f lost_tasks=%s",
                worker_id,
                self._liveness.silent_for_s(worker_id),
                ",".join(result.get("lost", [])) or "-",
            )
            if result.get("lost"):
                self.on_requeue()
