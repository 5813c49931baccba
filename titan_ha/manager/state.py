"""The replicated state machine: one object, changed only through ``apply``.

Every replica holds a ``ClusterState`` and applies the same commands in the
same order. ``apply`` is deterministic (the proposer supplies ids, times and
choices), never raises (an invalid command returns a rejection), and keeps
accepting old command versions. Commands are plain dicts with a string
``op``; the dispatch table below maps each op to its handler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from titan_ha.manager import state_tasks, state_workers
from titan_ha.manager.commands import Command, Malformed, Result, number, reject, text
from titan_ha.manager.records import TaskRecord, WorkerRecord

logger = logging.getLogger(__name__)

COMMAND_VERSION = 1

# Ops that change what the cluster decides. They carry the proposer's epoch
# and are rejected unless it is the current one, so a deposed leader that
# still believes it leads cannot change anything.
FENCED_OPS = frozenset(
    {
        "assign",
        "complete",
        "output",
        "reap",
        "register_worker",
        "drain",
        "gc",
        "set_member",
        "remove_member",
    }
)


# Fields that belong to this process, not to the replicated state.
LOCAL_FIELDS = frozenset({"lock", "test_faults"})


class ClusterState:
    """Tasks, attempts, workers and the current epoch.

    ``lock`` is held while a command applies; readers on other threads take
    it to see a consistent state.
    """

    def __init__(self, test_faults: frozenset[str] = frozenset()) -> None:
        self.lock = threading.RLock()
        # Deliberate bugs for the fault-injection harness's own tests only.
        self.test_faults = test_faults
        self.epoch = 0
        self.epoch_leader = ""
        self.next_seq = 1
        self.tasks: dict[str, TaskRecord] = {}
        self.pending: dict[str, None] = {}  # task ids in queue order
        self.keys: dict[str, str] = {}  # idempotency key -> task id
        self.workers: dict[str, WorkerRecord] = {}
        # Manager id -> {"grpc", "raft", "dashboard"}; empty until the first
        # leader records the configured membership.
        self.members: dict[str, dict[str, str]] = {}
        # Staged output of attempts whose result is still arriving in chunks:
        # (task id, attempt, stream) -> list of text chunks.
        self.staged: dict[tuple[str, int, str], list[str]] = {}
        self.applied = 0
        self.rejections: dict[str, int] = {}
        # Fenced commands accepted although their epoch was not the current
        # one, by op: always empty unless fencing is off (a broken build).
        self.stale_applied: dict[str, int] = {}

    def apply(self, command: Command) -> Result:
        """Applies one committed command; returns its result, never raises."""
        with self.lock:
            self.applied += 1
            try:
                result = self._dispatch(command)
            except Malformed as exc:
                result = reject("malformed command", detail=str(exc))
            except Exception:
                # A bug must not wedge every replica on this entry: every
                # replica fails the same way here, so state stays identical.
                logger.exception("command failed op=%s", command.get("op"))
                result = reject("internal error")
            if not result.get("ok"):
                reason = str(result.get("reason", "rejected"))
                self.rejections[reason] = self.rejections.get(reason, 0) + 1
                op = command.get("op") if isinstance(command, dict) else None
                logger.info("command rejected op=%s reason=%s", op, reason)
            return result

    def _dispatch(self, command: Command) -> Result:
        if not isinstance(command, dict):
            return reject("malformed command")
        op = command.get("op")
        handler = HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None:
            return reject("unknown op", op=str(op))
        if number(command, "v", 1) > COMMAND_VERSION:
            return reject("command version from the future")
        stale = op in FENCED_OPS and command.get("epoch") != self.epoch
        if stale and "no-fencing" not in self.test_faults:
            return reject("stale epoch", epoch=self.epoch)
        result = handler(self, command)
        if stale and result.get("ok"):
            self.stale_applied[str(op)] = self.stale_applied.get(str(op), 0) + 1
        return result

    def member_list(self) -> list[tuple[str, dict[str, str]]]:
        with self.lock:
            return [(k, dict(v)) for k, v in self.members.items()]

    def rejection_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.rejections)

    def stale_applied_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.stale_applied)

    # Snapshots: the state is saved and restored in place, so that objects
    # holding a reference to it keep seeing the live state.
    def to_snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {k: v for k, v in vars(self).items() if k not in LOCAL_FIELDS}

    def restore(self, snapshot: dict[str, Any]) -> None:
        with self.lock:
            fresh = ClusterState()
            for key, value in vars(fresh).items():
                if key not in LOCAL_FIELDS:
                    setattr(self, key, snapshot.get(key, value))


def _new_epoch(state: ClusterState, cmd: Command) -> Result:
    term, leader = number(cmd, "term"), text(cmd, "leader")
    if not leader or term != int(term):
        return reject("malformed command", detail="new_epoch needs term and leader")
    if term < state.epoch or (term == state.epoch and leader != state.epoch_leader):
        return reject("stale epoch", epoch=state.epoch)
    state.epoch = int(term)
    state.epoch_leader = leader
    return {"ok": True, "epoch": state.epoch}


def _set_member(state: ClusterState, cmd: Command) -> Result:
    member_id = text(cmd, "id")
    addresses = {key: text(cmd, key) for key in ("grpc", "raft", "dashboard")}
    if not member_id or not addresses["grpc"] or not addresses["raft"]:
        return reject("malformed command", detail="a member needs id, grpc and raft")
    state.members[member_id] = addresses
    return {"ok": True}


def _remove_member(state: ClusterState, cmd: Command) -> Result:
    if state.members.pop(text(cmd, "id"), None) is None:
        return reject("unknown member")
    return {"ok": True}


def _barrier(state: ClusterState, cmd: Command) -> Result:
    return {"ok": True, "applied": state.applied}


Handler = Callable[[ClusterState, Command], Result]

HANDLERS: dict[str, Handler] = {
    "new_epoch": _new_epoch,
    "barrier": _barrier,
    "set_member": _set_member,
    "remove_member": _remove_member,
    "submit": state_tasks.submit,
    "assign": state_tasks.assign,
    "output": state_tasks.stage_output,
    "complete": state_tasks.complete,
    "cancel": state_tasks.cancel,
    "gc": state_tasks.gc,
    "register_worker": state_workers.register_worker,
    "reap": state_workers.reap,
    "drain": state_workers.drain,
}
