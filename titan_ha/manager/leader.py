"""Leader-only services, switched on and off together.

When this replica becomes leader it proposes ``new_epoch`` and waits for it
to commit; only then do the dispatcher and the reaper start, fenced by that
epoch. When it loses leadership, or sees that another epoch has committed,
they stop together.
"""

from __future__ import annotations

import logging
import threading
import time

from titan_ha.config import ManagerSpec
from titan_ha.errors import TitanError
from titan_ha.manager.commands import Command, Result
from titan_ha.manager.dispatcher import Dispatcher
from titan_ha.manager.liveness import Liveness
from titan_ha.manager.loops import LeaderLoop
from titan_ha.manager.raft import RaftNode
from titan_ha.manager.state import ClusterState

logger = logging.getLogger(__name__)

PROPOSE_TIMEOUT_S = 3.0
# Under the "slow-step-down" test fault, services outlive the loss of
# leadership by this long: a deposed leader that has not noticed yet, whose
# commands only fencing stops. Below every reaper threshold, so the deposed
# leader's reaper does not declare the whole fleet dead meanwhile.
SLOW_STEP_DOWN_S = 1.0


class LeaderServices:
    """Watches this replica's role and runs the leader's loops while it leads."""

    def __init__(
        self,
        node_id: str,
        state: ClusterState,
        dispatcher: Dispatcher,
        loops: list[LeaderLoop],
        liveness: Liveness,
        initial_members: tuple[ManagerSpec, ...] = (),
    ) -> None:
        self.node_id = node_id
        self._state = state
        self.dispatcher = dispatcher
        self.loops = loops
        self.liveness = liveness
        self._initial_members = initial_members
        self._raft: RaftNode | None = None
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._epoch: int | None = None
        self._lost_at: float | None = None  # when leadership was seen lost
        self._thread = threading.Thread(
            target=self._watch, name="leader-watch", daemon=True
        )

    @property
    def epoch(self) -> int | None:
        """The epoch this replica leads, once its ``new_epoch`` committed."""
        return self._epoch

    def start(self, raft: RaftNode) -> None:
        self._raft = raft
        self._thread.start()

    def role_changed(self) -> None:
        """Called from the Raft tick thread: only wakes the watcher."""
        self._wake.set()

    def propose(self, command: Command) -> Result:
        assert self._raft is not None
        return self._raft.propose(command, PROPOSE_TIMEOUT_S)

    def propose_all(self, commands: list[Command]) -> list[Result]:
        """Pipelines ``commands`` in order; for bulk data such as output."""
        assert self._raft is not None
        return self._raft.propose_all(commands, PROPOSE_TIMEOUT_S)

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._step_down("shutting down")

    def _watch(self) -> None:
        assert self._raft is not None
        while not self._closed.is_set():
            self._wake.wait(0.05)
            self._wake.clear()
            if self._closed.is_set():
                return
            leading = self._raft.is_leader
            term = self._raft.term
            lost = (
                not leading or term != self._epoch or self._state.epoch != self._epoch
            )
            if self._epoch is not None and lost and self._may_step_down():
                self._step_down("leadership lost")
            if leading and self._epoch is None:
                self._take_over(term)

    def _may_step_down(self) -> bool:
        """True at once, or SLOW_STEP_DOWN_S late under the test fault."""
        if "slow-step-down" not in self._state.test_faults:
            return True
        now = time.monotonic()
        if self._lost_at is None:
            self._lost_at = now
            logger.warning(
                "leadership lost, stepping down late (test fault) delay_s=%.1f",
                SLOW_STEP_DOWN_S,
            )
        return now - self._lost_at >= SLOW_STEP_DOWN_S

    def _take_over(self, term: int) -> None:
        try:
            result = self.propose(
                {"op": "new_epoch", "term": term, "leader": self.node_id}
            )
        except TitanError as exc:
            logger.warning("new epoch not committed term=%d error=%s", term, exc)
            return
        if not result.get("ok") or not self._raft or self._raft.term != term:
            return
        if not self._record_members(term):
            return
        self._epoch = term
        if "no-takeover-reset" not in self._state.test_faults:
            # Whatever this process heard while it led before is stale.
            self.liveness.reset()
        for loop in self.loops:
            loop.start(term, self.propose)
        self.dispatcher.activate(term, self.propose, self.propose_all)
        logger.info("leading epoch=%d node_id=%s", term, self.node_id)

    def _record_members(self, term: int) -> bool:
        """Writes the configured membership into a state that has none yet."""
        if self._state.member_list():
            return True
        for spec in self._initial_members:
            try:
                result = self.propose(
                    {
                        "op": "set_member",
                        "epoch": term,
                        "id": spec.id,
                        "grpc": spec.grpc,
                        "raft": spec.raft,
                        "dashboard": spec.dashboard,
                    }
                )
            except TitanError as exc:
                logger.warning("membership not recorded term=%d error=%s", term, exc)
                return False
            if not result.get("ok"):
                return False
        return True

    def _step_down(self, why: str) -> None:
        if self._epoch is None:
            return
        logger.info("leader services stopped epoch=%d reason=%s", self._epoch, why)
        self._epoch = None
        self._lost_at = None
        self.dispatcher.deactivate()
        for loop in self.loops:
            loop.stop()
