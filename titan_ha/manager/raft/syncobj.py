"""pysyncobj's ``SyncObj`` with the repairs Titan's faults showed it needs.

Part of the Raft adapter: nothing outside ``titan_ha.manager.raft`` uses
it. Each repair overrides one private method of pysyncobj 0.3.17 by its
mangled name (``_SyncObj__...``), keeps pysyncobj's behaviour where it is
right, and says which fault showed the need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pysyncobj import SyncObj


class RepairedSyncObj(SyncObj):  # type: ignore[misc]
    """pysyncobj's replica with three repairs.

    A follower's rejection points at its commit index; a follower keeps the
    entries it holds already (``held_prefix``); a leader does not send a
    batch twice because an earlier batch's answer arrived after it.

    On the first: a leader pipelines a follower's whole backlog in one tick,
    so a follower whose log ends in entries of a deposed leader (it led
    alone behind a partition) answers one batch "go back one entry" and
    every later batch "start after my last entry"; the leader takes the last
    answer and the two never meet (found by jepsen_like's partition-leader
    nemesis: a healed replica stayed behind for good). Entries up to a
    follower's commit index are committed, hence on every leader, so "start
    after my commit index" is always right, and every answer to one backlog
    agrees.
    """

    def _SyncObj__sendNextNodeIdx(
        self,
        node: Any,
        reset: bool = False,
        nextNodeIdx: int | None = None,
        success: bool = False,
    ) -> None:
        if reset and not success:
            floor = int(self._SyncObj__raftCommitIndex) + 1
            nextNodeIdx = floor if nextNodeIdx is None else min(nextNodeIdx, floor)
        super()._SyncObj__sendNextNodeIdx(node, reset, nextNodeIdx, success)

    def _SyncObj__onMessageReceived(self, node: Any, message: Any) -> None:
        kind = message.get("type")
        if kind == "append_entries" and message.get("entries"):
            message = self._without_held_entries(message)
        indexes = self._SyncObj__raftNextIndex
        sent_up_to = indexes.get(node)
        super()._SyncObj__onMessageReceived(node, message)
        # A success answer to an earlier batch must not pull the next index
        # back below batches already sent: they would be sent again.
        if (
            kind == "next_node_idx"
            and message.get("success")
            and not message.get("reset")
            and sent_up_to is not None
            and node in indexes
        ):
            indexes[node] = max(indexes[node], sent_up_to)

    def _without_held_entries(self, message: dict[str, Any]) -> dict[str, Any]:
        if "transmission" in message or message["term"] < self._getTerm():
            return message
        log = self._SyncObj__raftLog
        first_index = int(log[0][1])

        def held_term(index: int) -> int | None:
            if first_index < index <= int(log[-1][1]):
                return int(log[index - first_index][2])
            return None

        prev = held_prefix(
            message["entries"],
            held_term,
            last_held=(int(log[-1][1]), int(log[-1][2])),
            leader_term=int(message["term"]),
            commit_index=int(self._SyncObj__raftCommitIndex),
        )
        if prev is None:
            return message
        (prev_index, prev_term), rest = prev
        return {
            **message,
            "prevLogIdx": prev_index,
            "prevLogTerm": prev_term,
            "entries": rest,
        }


def held_prefix(
    entries: list[tuple[Any, int, int]],
    held_term: Callable[[int], int | None],
    last_held: tuple[int, int],
    leader_term: int,
    commit_index: int,
) -> tuple[tuple[int, int], list[tuple[Any, int, int]]] | None:
    """An append rewritten to start after the entries this log already holds.

    ``entries`` are (command, index, term) as the leader sent them;
    ``held_term`` gives the term of this log's entry at an index (None when
    it has none there). Returns the new (previous index, its term) and the
    entries still to append, or None to leave the append as it is.

    Raft truncates a follower's log only at the first entry that conflicts
    with the leader's; pysyncobj truncates after the previous index every
    time, so an append that repeats what a follower holds (pipelined
    batches, a resend after a failover) deletes applied entries and adds
    them back. Held entries are equal to the leader's (same index and term),
    and so is whatever follows them in this log when it is of the leader's
    own term or committed: the rewritten append keeps all of it.
    """
    held = 0
    for entry in entries:
        if held_term(int(entry[1])) != int(entry[2]):
            break
        held += 1
    if held == 0:
        return None
    if held < len(entries):
        last = entries[held - 1]
        return (int(last[1]), int(last[2])), list(entries[held:])
    last_index, last_term = last_held
    keep = int(entries[-1][1])
    if last_term == leader_term:
        keep = last_index
    else:
        keep = max(keep, min(last_index, commit_index))
    term = held_term(keep)
    assert term is not None  # keep lies between a held entry and the last one
    return (keep, term), []
