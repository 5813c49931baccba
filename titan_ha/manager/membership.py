"""Growing and shrinking the Raft group, one manager at a time (leader only).

The membership is replicated twice over: pysyncobj keeps the Raft group, and
the state machine keeps each member's addresses (``set_member``), so every
replica can redirect clients to any leader. A manager is recorded before it
joins the Raft group and forgotten after it leaves, so a failed change leaves
at worst a recorded member that is not yet voting; repeating the command
finishes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from titan_ha.config import ManagerSpec
from titan_ha.errors import InvalidRequest, ManagerNotFound, NoLeader
from titan_ha.manager.leader import LeaderServices
from titan_ha.manager.raft import RaftNode

logger = logging.getLogger(__name__)

CHANGE_TIMEOUT_S = 10.0
HAND_OVER_S = 2.0
START_GRACE_S = 5.0  # how long a newly started manager may take to answer


class Membership:
    """Serialises membership changes on the leader."""

    def __init__(
        self,
        me: ManagerSpec,
        raft: RaftNode,
        leader: LeaderServices,
        members: Callable[[], list[ManagerSpec]],
        answers: Callable[[ManagerSpec], bool],
    ) -> None:
        self._answers = answers
        self._me = me
        self._raft = raft
        self._leader = leader
        self._members = members
        # pysyncobj applies one membership change at a time.
        self._lock = threading.Lock()

    def add(self, epoch: int, spec: ManagerSpec) -> None:
        with self._lock:
            for member in self._members():
                if member.id == spec.id and member != spec:
                    raise InvalidRequest(
                        f"manager {spec.id} exists with other addresses"
                    )
                if member.id != spec.id and spec.raft in (member.raft, member.grpc):
                    raise InvalidRequest(f"{spec.raft} is already used by {member.id}")
            if not self._answers_soon(spec):
                raise InvalidRequest(
                    f"manager {spec.id} does not answer at {spec.grpc}: start it "
                    "first, with a config that lists it"
                )
            self._record(epoch, spec)
            if spec.raft not in self._raft.partners():
                self._raft.change_membership(True, spec.raft, CHANGE_TIMEOUT_S)
            logger.info(
                "manager added id=%s raft=%s grpc=%s", spec.id, spec.raft, spec.grpc
            )

    def remove(self, epoch: int, manager_id: str) -> None:
        with self._lock:
            spec = next((m for m in self._members() if m.id == manager_id), None)
            if spec is None:
                raise ManagerNotFound(manager_id)
            if len(self._members()) <= 1:
                raise InvalidRequest("cannot remove the last manager")
            if spec.id == self._me.id:
                self._hand_over()
            # Forgotten first, while it still receives the log: the removed
            # replica sees that it is out and stops by itself.
            result = self._leader.propose(
                {"op": "remove_member", "epoch": epoch, "id": manager_id}
            )
            if not result.get("ok"):
                raise InvalidRequest(f"not recorded: {result.get('reason')}")
            if spec.raft in self._raft.partners():
                self._raft.change_membership(False, spec.raft, CHANGE_TIMEOUT_S)
            logger.info("manager removed id=%s raft=%s", spec.id, spec.raft)

    def _answers_soon(self, spec: ManagerSpec) -> bool:
        """True once ``spec`` answers; a manager just started gets a moment."""
        deadline = time.monotonic() + START_GRACE_S
        while not self._answers(spec):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)
        return True

    def _hand_over(self) -> None:
        """Moves leadership away, so that the new leader removes this replica.

        Raises:
            NoLeader: always; the client retries on the new leader.
        """
        logger.info("handing leadership over before removing myself id=%s", self._me.id)
        self._raft.transfer_leadership()
        deadline = time.monotonic() + HAND_OVER_S
        while self._raft.is_leader and time.monotonic() < deadline:
            time.sleep(0.05)
        raise NoLeader(f"{self._me.id} was the leader; leadership is moving")

    def _record(self, epoch: int, spec: ManagerSpec) -> None:
        result = self._leader.propose(
            {
                "op": "set_member",
                "epoch": epoch,
                "id": spec.id,
                "grpc": spec.grpc,
                "raft": spec.raft,
                "dashboard": spec.dashboard,
            }
        )
        if not result.get("ok"):
            raise InvalidRequest(f"not recorded: {result.get('reason')}")
