"""The janitor (leader only): keeps the replicated state small.

Finished tasks beyond the retention bound are forgotten, oldest first, by
replicated ``gc`` commands of bounded size, so snapshots and log compaction
stay cheap however long the cluster runs. A pruned task's idempotency key is
forgotten with it.
"""

from __future__ import annotations

import logging

from titan_ha.errors import TitanError
from titan_ha.manager.loops import LeaderLoop, Propose
from titan_ha.manager.state import ClusterState

logger = logging.getLogger(__name__)

# Task ids per gc command: 500 ids of 16 characters keep it near 10 KiB.
GC_BATCH = 500


def prunable(state: ClusterState, retain_finished: int, limit: int) -> list[str]:
    """The oldest finished tasks beyond the newest ``retain_finished``."""
    with state.lock:
        finished = [t.id for t in state.tasks.values() if t.state.is_final]
    excess = len(finished) - retain_finished
    return finished[: min(max(excess, 0), limit)]


class Janitor(LeaderLoop):
    """Proposes ``gc`` while more finished tasks are kept than retained."""

    name = "janitor"

    def __init__(
        self, state: ClusterState, retain_finished: int, period_s: float = 2.0
    ) -> None:
        super().__init__(period_s)
        self._state = state
        self._retain = retain_finished

    def tick(self, epoch: int, propose: Propose, gap_s: float) -> None:
        while task_ids := prunable(self._state, self._retain, GC_BATCH):
            try:
                result = propose({"op": "gc", "epoch": epoch, "task_ids": task_ids})
            except TitanError as exc:
                logger.warning("gc not committed error=%s", exc)
                return
            if not result.get("ok") or not result["pruned"]:
                return
            logger.info("finished tasks pruned count=%d", result["pruned"])
            if self._stop.is_set():
                return
