"""The client library: an endpoint list, redirects, failover and retries.

Every caller outside the manager (CLI, worker, dashboard, jepsen_like) talks
to the cluster through ``Client``. It remembers the last leader it reached,
follows redirects, skips dead endpoints after a short per-endpoint deadline,
and retries only what is safe to retry: every call it makes is idempotent
(submits carry an idempotency key, reused on every retry).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc

from titan_ha._proto import titan_pb2 as pb
from titan_ha._proto import titan_pb2_grpc as pb_grpc
from titan_ha.api.errors import UNREACHABLE_CODES, translate
from titan_ha.api.views import ClusterStatus, TaskSpec, TaskView
from titan_ha.errors import (
    CommitUncertain,
    ConfigError,
    NoLeader,
    NotLeader,
    TitanError,
    Unreachable,
)
from titan_ha.models import AUTO_KEY_PREFIX, GRPC_CHANNEL_OPTIONS

logger = logging.getLogger(__name__)

Reply = TypeVar("Reply")
MAX_REDIRECTS = 4
SUSPECT_S = 5.0


class Client:
    """A connection to a Titan cluster through any of its managers.

    Args:
        endpoints: ``host:port`` of managers; any may be dead or a follower.
        token: bearer token sent with every call.
        endpoint_timeout_s: how long one endpoint may take before the next one
            is tried.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        token: str | None = None,
        endpoint_timeout_s: float = 1.0,
    ) -> None:
        if not endpoints:
            raise ConfigError("no manager endpoints given")
        self._endpoints = list(dict.fromkeys(endpoints))
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._endpoint_timeout_s = endpoint_timeout_s
        self._lock = threading.Lock()
        self._stubs: dict[str, tuple[grpc.Channel, pb_grpc.ManagerStub]] = {}
        self._leader: str | None = None
        # Endpoints that just failed to answer, until when to try them last.
        self._suspects: dict[str, float] = {}

    # The public calls --------------------------------------------------------
    def submit(
        self,
        spec: TaskSpec,
        *,
        idempotency_key: str | None = None,
        deadline_s: float = 10.0,
    ) -> tuple[str, bool]:
        """Submits a task; returns (task id, whether the key named an existing one).

        The same idempotency key is sent on every retry, so a submit whose
        first answer was lost creates one task, not two.
        """
        key = idempotency_key or AUTO_KEY_PREFIX + uuid.uuid4().hex
        reply: pb.SubmitReply = self.call(
            "Submit",
            pb.SubmitRequest(spec=spec.to_proto(key)),
            deadline_s=deadline_s,
            write=True,
        )
        return reply.task_id, reply.existed

    def get(
        self, task_id: str, *, local: bool = False, deadline_s: float = 5.0
    ) -> TaskView:
        """A task; ``local`` as for ``tasks``."""
        request = pb.GetTaskRequest(task_id=task_id, local=local)
        reply: pb.Task = self._read("GetTask", request, local, deadline_s)
        return TaskView.from_proto(reply)

    def tasks(
        self,
        state: str | None = None,
        limit: int = 0,
        *,
        local: bool = False,
        deadline_s: float = 5.0,
    ) -> list[TaskView]:
        """Tasks newest first.

        ``local`` asks the first endpoint's replica for its own state, with no
        barrier and no redirect: possibly stale, but there without a leader.
        """
        request = pb.ListTasksRequest(state=state or "", limit=limit, local=local)
        reply: pb.ListTasksReply = self._read("ListTasks", request, local, deadline_s)
        return [TaskView.from_proto(t) for t in reply.tasks]

    def node_info(self, *, deadline_s: float = 2.0) -> dict[str, object]:
        """The first endpoint's own Raft view: role, term, indexes, rejections.

        ``stale_applied`` counts, by op, fenced commands its state machine
        accepted although their epoch was not the current one (none unless
        fencing is off).
        """
        info: pb.ManagerInfo = self._call_first(
            "NodeInfo", pb.NodeInfoRequest(), deadline_s
        )
        return {
            "id": info.id,
            "grpc": info.grpc,
            "role": info.role,
            "term": info.term,
            "commit_index": info.commit_index,
            "applied_index": info.applied_index,
            "leader_id": info.leader_id or None,
            "rejections": dict(info.rejections),
            "stale_applied": dict(info.stale_applied),
        }

    def cancel(self, task_id: str, *, deadline_s: float = 5.0) -> str:
        reply: pb.CancelReply = self.call(
            "Cancel", pb.CancelRequest(task_id=task_id), deadline_s=deadline_s
        )
        return reply.state

    def status(self, *, deadline_s: float = 3.0) -> ClusterStatus:
        """The cluster's view; from any replica (``leader`` None) without quorum."""
        try:
            reply: pb.StatusReply = self.call(
                "Status", pb.StatusRequest(), deadline_s=deadline_s
            )
        except (NoLeader, Unreachable):
            reply = self._any_replica_status()
        return ClusterStatus.from_proto(reply)

    def add_manager(
        self,
        manager_id: str,
        grpc_address: str,
        raft_address: str,
        dashboard: str = "",
        *,
        deadline_s: float = 15.0,
    ) -> list[dict[str, str]]:
        """Adds a started manager to the Raft group; returns the membership."""
        request = pb.ManagerAddress(
            id=manager_id, grpc=grpc_address, raft=raft_address, dashboard=dashboard
        )
        reply = self.call(
            "AddManager", request, deadline_s=deadline_s, per_call_timeout_s=deadline_s
        )
        return _members(reply)

    def remove_manager(
        self, manager_id: str, *, deadline_s: float = 15.0
    ) -> list[dict[str, str]]:
        """Removes a manager from the Raft group; returns the membership."""
        reply = self.call(
            "RemoveManager",
            pb.RemoveManagerRequest(id=manager_id),
            deadline_s=deadline_s,
            per_call_timeout_s=deadline_s,
        )
        return _members(reply)

    def wait(
        self, task_id: str, timeout_s: float | None = None, poll_s: float = 0.1
    ) -> TaskView:
        """Polls until the task is final; raises TimeoutError after ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                task = self.get(task_id)
                if task.is_final:
                    return task
            except (NoLeader, Unreachable, CommitUncertain):
                # A failover is under way: keep waiting for the task.
                pass
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} not final after {timeout_s}s")
            time.sleep(poll_s)

    def close(self) -> None:
        with self._lock:
            for channel, _ in self._stubs.values():
                channel.close()
            self._stubs.clear()

    # Failover ----------------------------------------------------------------
    def call(
        self,
        method: str,
        request: Any,
        *,
        deadline_s: float,
        per_call_timeout_s: float | None = None,
        write: bool = False,
    ) -> Any:
        """Calls ``method`` on the leader, wherever it is, within ``deadline_s``.

        ``write`` says the call changes state: a try that timed out or whose
        commit was uncertain may still take effect, so giving up after one
        raises CommitUncertain, never a plain "no leader".

        Raises:
            NoLeader: managers answered, but none leads.
            Unreachable: no manager answered.
            CommitUncertain: a write gave up with its outcome unknown.
            TitanError: the leader refused the request (not found, invalid, …).
        """
        deadline = time.monotonic() + deadline_s
        per_call = per_call_timeout_s or self._endpoint_timeout_s
        tries = _Tries(
            Unreachable(f"no manager reachable at {','.join(self._endpoints)}"),
            write,
        )
        round_number = 0
        while True:
            for endpoint in self._candidates():
                redirects = 0
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        tries.give_up()
                    try:
                        reply = self._invoke(
                            endpoint, method, request, min(per_call, remaining)
                        )
                    except grpc.RpcError as rpc_error:
                        error = translate(rpc_error, endpoint)
                        hop = self._next_hop(error, endpoint, redirects)
                        redirects += 1
                        tries.failed(error, rpc_error.code(), self._endpoints)
                        if hop is None:
                            break
                        endpoint = hop
                        continue
                    with self._lock:
                        self._leader = endpoint
                        self._suspects.pop(endpoint, None)
                    return reply
            round_number += 1
            pause = min(0.05 * 2**round_number, 0.5) * random.uniform(0.5, 1.0)
            if time.monotonic() + pause >= deadline:
                tries.give_up()
            time.sleep(pause)

    def _read(self, method: str, request: Any, local: bool, deadline_s: float) -> Any:
        if local:
            return self._call_first(method, request, deadline_s)
        return self.call(method, request, deadline_s=deadline_s)

    def _call_first(self, method: str, request: Any, timeout_s: float) -> Any:
        """Calls the first endpoint only: reads of that particular replica."""
        endpoint = self._endpoints[0]
        try:
            return self._invoke(endpoint, method, request, timeout_s)
        except grpc.RpcError as rpc_error:
            raise translate(rpc_error, endpoint) from None

    def _candidates(self) -> list[str]:
        """The remembered leader, then the endpoints; recently silent ones last."""
        now = time.monotonic()
        with self._lock:
            leader = self._leader
            suspects = {e for e, until in self._suspects.items() if until > now}
        ordered = list(dict.fromkeys(([leader] if leader else []) + self._endpoints))
        return [e for e in ordered if e not in suspects] + [
            e for e in ordered if e in suspects
        ]

    def _next_hop(self, error: TitanError, endpoint: str, redirects: int) -> str | None:
        """Where to go after ``error`` at ``endpoint``; None: the next endpoint."""
        if isinstance(error, NotLeader):
            if redirects < MAX_REDIRECTS and error.leader_grpc != endpoint:
                return error.leader_grpc
            return None
        with self._lock:
            if self._leader == endpoint:
                self._leader = None
            if isinstance(error, Unreachable):
                self._suspect(endpoint)
        if isinstance(error, NoLeader | Unreachable | CommitUncertain):
            return None
        raise error

    def _invoke(
        self, endpoint: str, method: str, request: Any, timeout_s: float
    ) -> Any:
        rpc: Callable[..., Any] = getattr(self._stub(endpoint), method)
        return rpc(request, timeout=timeout_s, metadata=self._metadata)

    def _stub(self, endpoint: str) -> pb_grpc.ManagerStub:
        with self._lock:
            entry = self._stubs.get(endpoint)
            if entry is None:
                channel = grpc.insecure_channel(endpoint, options=GRPC_CHANNEL_OPTIONS)
                entry = (channel, pb_grpc.ManagerStub(channel))
                self._stubs[endpoint] = entry
            return entry[1]

    def _any_replica_status(self) -> pb.StatusReply:
        """Status from the first replica that answers, leader or not."""
        for endpoint in self._candidates():
            try:
                reply: pb.StatusReply = self._invoke(
                    endpoint,
                    "Status",
                    pb.StatusRequest(local=True),
                    self._endpoint_timeout_s,
                )
                return reply
            except grpc.RpcError as rpc_error:
                if rpc_error.code() in UNREACHABLE_CODES:
                    with self._lock:
                        self._suspect(endpoint)
                    continue
                raise translate(rpc_error, endpoint) from None
        raise Unreachable("no manager answered")

    def _suspect(self, endpoint: str) -> None:
        """Tries ``endpoint`` last for a while; call with the lock held.

        Each call would otherwise spend its timeout on it again.
        """
        self._suspects[endpoint] = time.monotonic() + SUSPECT_S


def _members(reply: pb.MembershipReply) -> list[dict[str, str]]:
    return [
        {"id": m.id, "grpc": m.grpc, "raft": m.raft, "dashboard": m.dashboard}
        for m in reply.managers
    ]


@dataclass
class _Tries:
    """What the tries of one ``Client.call`` have learnt, to say on giving up."""

    last_error: TitanError
    write: bool
    uncertain: TitanError | None = None

    def failed(
        self, error: TitanError, code: grpc.StatusCode, endpoints: Sequence[str]
    ) -> None:
        if self.write and (
            isinstance(error, CommitUncertain)
            or code == grpc.StatusCode.DEADLINE_EXCEEDED
        ):
            # The leader may have logged it: it can still be applied.
            self.uncertain = self.uncertain or error
        if isinstance(error, Unreachable):
            error = Unreachable(
                f"no manager reachable at {','.join(endpoints)} (last: {error})"
            )
        # A manager's word that no leader exists says more than another
        # endpoint's silence: keep it.
        if not isinstance(error, NotLeader) and not (
            isinstance(self.last_error, NoLeader) and isinstance(error, Unreachable)
        ):
            self.last_error = error

    def give_up(self) -> NoReturn:
        if self.uncertain is not None:
            raise CommitUncertain(
                f"outcome unknown, it may still take effect "
                f"({self.uncertain}; then {self.last_error})"
            )
        raise self.last_error
