"""The gRPC API of one manager replica.

Every replica serves every RPC. Those that need the leader raise NotLeader on
a follower (a redirect carrying the leader's address) or NoLeader when none is
known. Reads that must be current run after a read barrier on the leader.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

from titan_ha._proto import titan_pb2 as pb
from titan_ha._proto import titan_pb2_grpc as pb_grpc
from titan_ha.config import ClusterConfig, ManagerSpec
from titan_ha.errors import (
    ConfigError,
    InvalidRequest,
    NoLeader,
    NotLeader,
    TaskNotFound,
    TitanError,
)
from titan_ha.manager.convert import spec_from_proto, task_to_proto
from titan_ha.manager.grpc_errors import abort_with
from titan_ha.manager.leader import LeaderServices
from titan_ha.manager.membership import Membership
from titan_ha.manager.raft import RaftNode
from titan_ha.manager.reads import ReadBarrier
from titan_ha.manager.state import ClusterState
from titan_ha.manager.state_tasks import parse_spec
from titan_ha.models import GRPC_CHANNEL_OPTIONS, MAX_COMMAND_BYTES, TaskState

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Rep = TypeVar("Rep")
PEER_TIMEOUT_S = 0.5
READ_TIMEOUT_S = 3.0
WRITE_TIMEOUT_S = 5.0


def handles_errors(
    method: Callable[[Any, Req, grpc.ServicerContext], Rep],
) -> Callable[[Any, Req, grpc.ServicerContext], Rep]:
    """Turns a TitanError raised by a handler into its gRPC status."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Req, context: grpc.ServicerContext) -> Rep:
        try:
            return method(self, request, context)
        except TitanError as error:
            abort_with(context, error)
            raise  # unreachable: abort raises

    return wrapper


class ManagerService(pb_grpc.ManagerServicer):  # type: ignore[misc]
    """The Manager gRPC service of one replica."""

    def __init__(
        self,
        me: ManagerSpec,
        config: ClusterConfig,
        state: ClusterState,
        raft: RaftNode,
        leader: LeaderServices,
    ) -> None:
        self._me = me
        self._config = config
        self._state = state
        self._raft = raft
        self._leader = leader
        self._barrier = ReadBarrier(self._propose_barrier)
        self._peers: dict[str, Any] = {}  # grpc address -> stub
        self._membership = Membership(
            me,
            raft,
            leader,
            self.members,
            lambda spec: self._peer_info(spec).role != "unreachable",
        )
        self._fanout = ThreadPoolExecutor(max_workers=4, thread_name_prefix="peers")

    # Leadership -----------------------------------------------------------
    def members(self) -> list[ManagerSpec]:
        """The replicated membership, or the configured one before it exists."""
        recorded = self._state.member_list()
        if not recorded:
            return list(self._config.managers)
        return [
            ManagerSpec(member_id, a["grpc"], a["raft"], a["dashboard"])
            for member_id, a in recorded
        ]

    def _leader_spec(self) -> ManagerSpec | None:
        address = self._raft.leader_address()
        for spec in self.members():
            if spec.raft == address:
                return spec
        return None

    def _require_leader(self) -> int:
        """This replica's epoch, or a redirect to the leader."""
        epoch = self._leader.epoch
        if epoch is not None:
            return epoch
        leader = self._leader_spec()
        if leader is not None and leader.id != self._me.id:
            raise NotLeader(leader.id, leader.grpc)
        raise NoLeader("no leader elected yet")

    def _propose_barrier(self, timeout_s: float) -> None:
        result = self._leader.propose({"op": "barrier"})
        if not result.get("ok"):
            raise NoLeader("barrier rejected")

    def _read_barrier(self) -> None:
        self._require_leader()
        self._barrier.wait(READ_TIMEOUT_S)

    # Client RPCs ------------------------------------------------------------
    @handles_errors
    def Submit(
        self, request: pb.SubmitRequest, context: grpc.ServicerContext
    ) -> pb.SubmitReply:
        spec = spec_from_proto(request.spec)
        problem = parse_spec(spec)
        if isinstance(problem, str):
            raise InvalidRequest(problem)
        size = len(request.spec.command.encode())
        if size > MAX_COMMAND_BYTES:
            raise InvalidRequest(
                f"command is {size} bytes; at most {MAX_COMMAND_BYTES} (use a script)"
            )
        self._require_leader()
        result = self._leader.propose(
            {
                "op": "submit",
                "task_id": new_task_id(),
                "spec": spec,
                "now": time.time(),
            }
        )
        if not result.get("ok"):
            raise InvalidRequest(str(result.get("detail") or result.get("reason")))
        if not result["existed"]:
            logger.info("task submitted task_id=%s", result["task_id"])
            self._leader.dispatcher.notify_work()
        return pb.SubmitReply(task_id=result["task_id"], existed=result["existed"])

    @handles_errors
    def GetTask(
        self, request: pb.GetTaskRequest, context: grpc.ServicerContext
    ) -> pb.Task:
        if not request.local:
            self._read_barrier()
        with self._state.lock:
            task = self._state.tasks.get(request.task_id)
            if task is None:
                raise TaskNotFound(request.task_id)
            return task_to_proto(task)

    @handles_errors
    def ListTasks(
        self, request: pb.ListTasksRequest, context: grpc.ServicerContext
    ) -> pb.ListTasksReply:
        if request.state and request.state not in TaskState.__members__:
            raise InvalidRequest(f"unknown state {request.state!r}")
        if not request.local:
            self._read_barrier()
        reply = pb.ListTasksReply()
        with self._state.lock:
            for task in reversed(self._state.tasks.values()):
                if request.state and task.state != request.state:
                    continue
                reply.tasks.append(task_to_proto(task, with_output=False))
                if request.limit and len(reply.tasks) >= request.limit:
                    break
        return reply

    @handles_errors
    def Cancel(
        self, request: pb.CancelRequest, context: grpc.ServicerContext
    ) -> pb.CancelReply:
        self._require_leader()
        with self._state.lock:
            if request.task_id not in self._state.tasks:
                raise TaskNotFound(request.task_id)
        result = self._leader.propose(
            {"op": "cancel", "task_id": request.task_id, "now": time.time()}
        )
        if not result.get("ok"):
            raise TaskNotFound(request.task_id)
        logger.info("task cancelled task_id=%s", request.task_id)
        return pb.CancelReply(state=result["task_state"])

    # Cluster view -----------------------------------------------------------
    @handles_errors
    def NodeInfo(
        self, request: pb.NodeInfoRequest, context: grpc.ServicerContext
    ) -> pb.ManagerInfo:
        return self._node_info()

    def _node_info(self) -> pb.ManagerInfo:
        view = self._raft.view()
        leader = self._leader_spec()
        return pb.ManagerInfo(
            id=self._me.id,
            grpc=self._me.grpc,
            role=view.role,
            term=view.term,
            commit_index=view.commit_index,
            applied_index=view.applied_index,
            leader_id=leader.id if leader else "",
            rejections=self._state.rejection_counts(),
            stale_applied=self._state.stale_applied_counts(),
        )

    def _peer_info(self, spec: ManagerSpec) -> pb.ManagerInfo:
        try:
            stub = self._peers.get(spec.grpc)
            if stub is None:
                channel = grpc.insecure_channel(spec.grpc, options=GRPC_CHANNEL_OPTIONS)
                stub = self._peers[spec.grpc] = pb_grpc.ManagerStub(channel)
            info: pb.ManagerInfo = stub.NodeInfo(
                pb.NodeInfoRequest(), timeout=PEER_TIMEOUT_S
            )
            return info
        except grpc.RpcError:
            return pb.ManagerInfo(id=spec.id, grpc=spec.grpc, role="unreachable")

    @handles_errors
    def Status(
        self, request: pb.StatusRequest, context: grpc.ServicerContext
    ) -> pb.StatusReply:
        stale = request.local and self._leader.epoch is None
        if not stale:
            try:
                self._read_barrier()
            except NotLeader:
                raise
            except NoLeader:
                stale = True  # no leader anywhere: answer from the local state
        infos = {self._me.id: self._node_info()}
        members = self.members()
        peers = [m for m in members if m.id != self._me.id]
        for info in self._fanout.map(self._peer_info, peers):
            infos[info.id] = info
        reply = pb.StatusReply(
            leader="" if stale else self._me.id,
            term=self._raft.term,
            managers=[infos[m.id] for m in members if m.id in infos],
            stale=stale,
        )
        with self._state.lock:
            counts = Counter(task.state.value for task in self._state.tasks.values())
            for worker in self._state.workers.values():
                reply.workers.append(
                    pb.WorkerInfo(
                        id=worker.id,
                        state=worker.state.value,
                        # Unknown without a leader; for a dead worker the
                        # leader's clock may date only from its takeover.
                        last_seen_s=-1.0
                        if stale or worker.dead
                        else self._leader.liveness.silent_for_s(worker.id),
                        running=sorted(worker.running),
                        registered_by_epoch=worker.registered_by_epoch,
                        registered_in_epoch=worker.registered_in_epoch,
                        reaped_by_epoch=worker.reaped_by_epoch,
                        reaped_in_epoch=worker.reaped_in_epoch,
                    )
                )
        for state in TaskState:
            reply.tasks[state.value] = counts.get(state.value, 0)
        return reply

    # Membership -------------------------------------------------------------
    @handles_errors
    def AddManager(
        self, request: pb.ManagerAddress, context: grpc.ServicerContext
    ) -> pb.MembershipReply:
        spec = ManagerSpec(request.id, request.grpc, request.raft, request.dashboard)
        try:
            spec.validate()
        except ConfigError as exc:
            raise InvalidRequest(str(exc)) from exc
        self._membership.add(self._require_leader(), spec)
        return self._membership_reply()

    @handles_errors
    def RemoveManager(
        self, request: pb.RemoveManagerRequest, context: grpc.ServicerContext
    ) -> pb.MembershipReply:
        self._membership.remove(self._require_leader(), request.id)
        return self._membership_reply()

    def _membership_reply(self) -> pb.MembershipReply:
        return pb.MembershipReply(
            managers=[
                pb.ManagerAddress(
                    id=m.id, grpc=m.grpc, raft=m.raft, dashboard=m.dashboard
                )
                for m in self.members()
            ]
        )

    # Worker RPCs ------------------------------------------------------------
    @handles_errors
    def Pulse(
        self, request: pb.PulseRequest, context: grpc.ServicerContext
    ) -> pb.PulseReply:
        if not request.worker_id or not request.incarnation:
            raise InvalidRequest("a pulse needs a worker id and an incarnation")
        self._require_leader()
        return self._leader.dispatcher.pulse(request)

    @handles_errors
    def ReportResult(
        self, request: pb.ReportRequest, context: grpc.ServicerContext
    ) -> pb.ReportReply:
        self._require_leader()
        return self._leader.dispatcher.report(request)


def new_task_id() -> str:
    """A fresh task id, made by the proposer (never inside ``apply``)."""
    return uuid.uuid4().hex[:16]


def build_server(service: ManagerService, address: str) -> grpc.Server:
    """A gRPC server for ``service`` plus the standard health service."""
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(
        ThreadPoolExecutor(max_workers=64, thread_name_prefix="grpc"),
        # No SO_REUSEPORT: a second manager on the same port must fail to start.
        options=(*GRPC_CHANNEL_OPTIONS, ("grpc.so_reuseport", 0)),
    )
    pb_grpc.add_ManagerServicer_to_server(service, server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(address) == 0:
        raise TitanError(f"cannot listen on {address}")
    return server
