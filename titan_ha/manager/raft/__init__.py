"""The Raft adapter: the only package that imports pysyncobj.

It owns one ``SyncObj`` replica whose single consumer holds the
``ClusterState``. Everything pysyncobj-shaped (camelCase, fail reasons,
pickled snapshots) stays in here; the rest of the manager sees ``propose``,
roles and indexes.
"""

from __future__ import annotations

import _socket
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pysyncobj import FAIL_REASON, SyncObjConf, SyncObjConsumer, replicated

from titan_ha.errors import CommitUncertain, NoLeader
from titan_ha.manager.commands import Command, Result
from titan_ha.manager.raft.syncobj import RepairedSyncObj
from titan_ha.manager.state import ClusterState

logger = logging.getLogger(__name__)

# Importing pysyncobj replaces socket.inet_ntop, on every platform, with a
# Windows-only version that raises elsewhere (psutil's connection listing
# calls it): put the real one back.
socket.inet_ntop = _socket.inet_ntop

# Fail reasons after which the entry was certainly not applied; any other
# reason (LEADER_CHANGED, a timeout) leaves the outcome unknown.
NOT_APPLIED = frozenset(
    {
        FAIL_REASON.MISSING_LEADER,
        FAIL_REASON.DISCARDED,
        FAIL_REASON.NOT_LEADER,
        FAIL_REASON.QUEUE_FULL,
        FAIL_REASON.REQUEST_DENIED,
    }
)
ROLES = {0: "follower", 1: "candidate", 2: "leader"}


class _StateConsumer(SyncObjConsumer):  # type: ignore[misc]
    """Holds the state for pysyncobj; built completely before SyncObj exists."""

    def __init__(self, state: ClusterState) -> None:
        super().__init__()
        self.state = state

    @replicated  # type: ignore[untyped-decorator]
    def apply_command(self, command: Command) -> Result:
        return self.state.apply(command)

    def _serialize(self) -> dict[str, Any]:
        return {"state": self.state.to_snapshot()}

    def _deserialize(self, data: dict[str, Any]) -> None:
        # Restored in place: the server and the leader services keep
        # references to this very object.
        self.state.restore(data["state"])


@dataclass(frozen=True)
class RaftSettings:
    """How this replica takes part in the Raft group."""

    self_address: str
    partner_addresses: tuple[str, ...]
    secret: str
    # Where to listen when peers reach ``self_address`` through something
    # else (a proxy); empty: ``self_address`` itself.
    bind_address: str = ""
    data_dir: str = ""
    election_min_s: float = 0.3
    election_max_s: float = 0.7
    leader_fallback_s: float = 2.0
    # Log compaction pickles the whole state: in a forked child it costs the
    # tick thread only the fork, inline it stalls it for as long as it takes.
    compaction_in_fork: bool = True
    compaction_min_entries: int = 5000
    # Replicas take turns compacting, so they never all pause at once.
    compaction_split: bool = True


@dataclass(frozen=True)
class RaftView:
    """A snapshot of this replica's Raft view."""

    role: str
    term: int
    leader_address: str | None
    commit_index: int
    applied_index: int
    has_quorum: bool


class RaftNode:
    """One Raft replica of the cluster state."""

    def __init__(
        self,
        settings: RaftSettings,
        state: ClusterState,
        on_role_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.state = state
        self._consumer = _StateConsumer(state)
        journal = None
        if settings.data_dir:
            os.makedirs(settings.data_dir, exist_ok=True)
            journal = os.path.join(settings.data_dir, "raft.journal")
            snapshot_dir = settings.data_dir
        else:
            # Without a data dir pysyncobj would compact in memory, inline on
            # the tick thread; a private folder lets it fork instead.
            self._scratch = tempfile.TemporaryDirectory(prefix="titan-raft-")
            snapshot_dir = self._scratch.name
        dump = os.path.join(snapshot_dir, "raft.snapshot")

        def state_changed(old: int, new: int) -> None:
            # Runs on the tick thread: only hand the news on.
            on_role_change()

        conf = SyncObjConf(
            password=settings.secret,
            bindAddress=settings.bind_address or None,
            appendEntriesUseBatch=False,
            appendEntriesPeriod=0.05,
            raftMinTimeout=settings.election_min_s,
            raftMaxTimeout=settings.election_max_s,
            connectionTimeout=60.0,
            connectionRetryTime=0.5,
            leaderFallbackTimeout=settings.leader_fallback_s,
            commandsWaitLeader=False,
            journalFile=journal,
            fullDumpFile=dump,
            logCompactionSplit=settings.compaction_split,
            logCompactionMinEntries=settings.compaction_min_entries,
            useFork=settings.compaction_in_fork,
            dynamicMembershipChange=True,
            onStateChanged=state_changed,
        )
        self._sync = RepairedSyncObj(
            settings.self_address,
            list(settings.partner_addresses),
            conf=conf,
            consumers=[self._consumer],
        )

    def propose(self, command: Command, timeout_s: float = 5.0) -> Result:
        """Replicates ``command`` and returns what ``apply`` returned here.

        Raises:
            NoLeader: the entry was certainly not applied.
            CommitUncertain: it may still be applied later.
        """
        return self.propose_all([command], timeout_s)[0]

    def propose_all(
        self, commands: list[Command], timeout_s: float = 5.0
    ) -> list[Result]:
        """Replicates ``commands`` pipelined, in this order; their results.

        Raises:
            NoLeader: the first failed entry was certainly not applied.
            CommitUncertain: it may still be applied later.
        """
        pending = []
        for command in commands:
            done = threading.Event()
            outcome: list[Any] = [None, None, done]

            def callback(result: Any, error: Any, outcome: list[Any] = outcome) -> None:
                outcome[0], outcome[1] = result, error
                outcome[2].set()

            self._consumer.apply_command(command, callback=callback)
            pending.append(outcome)
        deadline = time.monotonic() + timeout_s
        results = []
        for result, error, _ in (self._settled(o, deadline) for o in pending):
            if error == FAIL_REASON.SUCCESS:
                results.append(dict(result))
            elif error in NOT_APPLIED:
                raise NoLeader(f"not applied ({_reason_name(error)})")
            else:
                raise CommitUncertain(f"outcome unknown ({_reason_name(error)})")
        return results

    @staticmethod
    def _settled(outcome: list[Any], deadline: float) -> list[Any]:
        if not outcome[2].wait(max(0.0, deadline - time.monotonic())):
            raise CommitUncertain("no commit in time")
        return outcome

    @property
    def is_leader(self) -> bool:
        return bool(self._sync._isLeader())

    @property
    def term(self) -> int:
        return int(self._sync._getTerm())

    def leader_address(self) -> str | None:
        leader = self._sync._getLeader()
        return None if leader is None else str(leader.address)

    def view(self) -> RaftView:
        status = self._sync.getStatus()
        leader = status.get("leader")
        return RaftView(
            role=ROLES.get(int(status["state"]), "follower"),
            term=int(status["raft_term"]),
            leader_address=None if leader is None else str(leader.address),
            commit_index=int(status["commit_idx"]),
            applied_index=int(status["last_applied"]),
            has_quorum=bool(status["has_quorum"]),
        )

    def partners(self) -> set[str]:
        """Raft addresses of the other replicas this one knows of."""
        status = self._sync.getStatus()
        prefix = "partner_node_status_server_"
        return {key[len(prefix) :] for key in status if key.startswith(prefix)}

    def change_membership(self, add: bool, address: str, timeout_s: float) -> None:
        """Adds or removes one replica (by Raft address); waits for the commit.

        Raises:
            NoLeader: the change was refused or not committed in time.
        """
        done = threading.Event()
        outcome: list[Any] = [None]

        def callback(result: Any, error: Any) -> None:
            outcome[0] = error
            done.set()

        change = (
            self._sync.addNodeToCluster if add else self._sync.removeNodeFromCluster
        )
        change(address, callback=callback)
        if not done.wait(timeout_s):
            raise CommitUncertain(f"membership change not committed in {timeout_s}s")
        if outcome[0] != FAIL_REASON.SUCCESS:
            raise NoLeader(f"membership change refused ({_reason_name(outcome[0])})")

    def transfer_leadership(self) -> None:
        """Hands leadership to another replica before a planned shutdown."""
        self._sync.transferLeadership()

    def force_compaction(self) -> None:
        """Compacts the log at the next tick (benchmarks and tests)."""
        self._sync.forceLogCompaction()

    def close(self) -> None:
        self._sync.destroy()


def _reason_name(code: Any) -> str:
    for name in (
        "QUEUE_FULL",
        "MISSING_LEADER",
        "DISCARDED",
        "NOT_LEADER",
        "LEADER_CHANGED",
        "REQUEST_DENIED",
    ):
        if getattr(FAIL_REASON, name) == code:
            return name
    return str(code)
