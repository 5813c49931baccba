"""The dispatcher (leader only): answers worker Pulses and result reports.

Workers pull. A Pulse says which attempts the worker runs and how many more
it can take; the answer carries new assignments, assignments the worker
should already have (their first answer may have been lost), and attempts it
must kill because they are no longer its own. An idle worker's Pulse is held
open for a moment and answered as soon as work arrives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from titan_ha._proto import titan_pb2 as pb
from titan_ha.errors import NoLeader, WorkerIdInUse
from titan_ha.manager.commands import OUTPUT_CHUNK_CHARS, Command, Result
from titan_ha.manager.convert import spec_to_proto
from titan_ha.manager.liveness import Liveness
from titan_ha.manager.scheduler import choose_tasks
from titan_ha.manager.state import ClusterState
from titan_ha.models import TaskState

logger = logging.getLogger(__name__)

Propose = Callable[[Command], Result]
ProposeAll = Callable[[list[Command]], list[Result]]
MAX_HOLD_S = 2.0
# Reasons for which a worker's result can never be applied: stop reporting.
STALE_REPORT_REASONS = frozenset(
    {
        "unknown task",
        "unknown attempt",
        "attempt belongs to another worker",
        "attempt already ended",
        "attempt already finished",
    }
)


class Dispatcher:
    """Pulse and report handling for the current epoch."""

    def __init__(
        self,
        state: ClusterState,
        liveness: Liveness,
        lease_s: float,
        pulse_interval_s: float,
        dead_after_s: float,
    ) -> None:
        self._dead_after_s = dead_after_s
        self._state = state
        self._liveness = liveness
        self._lease_s = lease_s
        self._pulse_interval_s = pulse_interval_s
        self._cond = threading.Condition()
        self._work_version = 0
        self._epoch: int | None = None
        self._leading_since = 0.0  # monotonic time of the activation
        self._propose: Propose | None = None
        self._propose_all: ProposeAll | None = None
        self._assign_lock = threading.Lock()

    def activate(self, epoch: int, propose: Propose, propose_all: ProposeAll) -> None:
        with self._cond:
            self._epoch, self._propose = epoch, propose
            self._propose_all = propose_all
            self._leading_since = time.monotonic()
            self._cond.notify_all()

    def deactivate(self) -> None:
        with self._cond:
            self._epoch, self._propose = None, None
            self._work_version += 1
            self._cond.notify_all()

    def notify_work(self) -> None:
        """Wakes held Pulses: a task was submitted or requeued."""
        with self._cond:
            self._work_version += 1
            self._cond.notify_all()

    def _current(self) -> tuple[int, Propose]:
        with self._cond:
            if self._epoch is None or self._propose is None:
                raise NoLeader("leader services are not running")
            return self._epoch, self._propose

    def pulse(self, req: pb.PulseRequest) -> pb.PulseReply:
        epoch, propose = self._current()
        if req.leaving:
            return self._forget(epoch, propose, req)
        reaped_by = self._register(epoch, propose, req)
        self._liveness.touch(req.worker_id)
        kill, assignments = self._reconcile(req)
        slots = req.free_slots - len(assignments)
        if not req.draining and slots > 0:
            with self._cond:
                version = self._work_version
            new = self._assign(epoch, propose, req, slots)
            if not new and not assignments and req.wait_s > 0:
                with self._cond:
                    self._cond.wait_for(
                        lambda: self._work_version != version,
                        timeout=min(req.wait_s, MAX_HOLD_S),
                    )
                if self._epoch == epoch:
                    new = self._assign(epoch, propose, req, slots)
            assignments += new
        self._liveness.touch(req.worker_id)
        return pb.PulseReply(
            assignments=assignments,
            kill=kill,
            pulse_interval_s=self._pulse_interval_s,
            lease_s=self._lease_s,
            epoch=epoch,
            rejoined=reaped_by is not None,
            leader_for_s=time.monotonic() - self._leading_since,
            reaped_by_epoch=-1 if reaped_by is None else reaped_by,
        )

    def _forget(
        self, epoch: int, propose: Propose, req: pb.PulseRequest
    ) -> pb.PulseReply:
        """A stopping worker's goodbye: it is gone, as if reaped, right now."""
        result = propose(
            {
                "op": "reap",
                "epoch": epoch,
                "worker_id": req.worker_id,
                "incarnation": req.incarnation,
                "now": time.time(),
            }
        )
        self._check(result)
        if result.get("ok"):
            logger.info("worker left worker_id=%s", req.worker_id)
            if result.get("lost"):
                self.notify_work()
        return pb.PulseReply()

    def _register(
        self, epoch: int, propose: Propose, req: pb.PulseRequest
    ) -> int | None:
        """Registers an unknown worker.

        Returns:
            The epoch that had declared it dead, if it had been; else None.
        """
        with self._state.lock:
            worker = self._state.workers.get(req.worker_id)
            known = (
                worker is not None
                and worker.incarnation == req.incarnation
                and not worker.dead
            )
            reaped_by = (
                worker.reaped_by_epoch
                if worker is not None
                and worker.incarnation == req.incarnation
                and worker.dead
                else None
            )
            draining = worker is not None and worker.draining
            live_elsewhere = (
                worker is not None
                and not worker.dead
                and worker.incarnation != req.incarnation
                and self._liveness.silent_for_s(req.worker_id) < self._dead_after_s
            )
        if live_elsewhere:
            # Two processes with one id would steal each other's attempts.
            # A restarted worker gets in once its predecessor is reaped.
            raise WorkerIdInUse(req.worker_id)
        if not known:
            result = propose(
                {
                    "op": "register_worker",
                    "epoch": epoch,
                    "worker_id": req.worker_id,
                    "incarnation": req.incarnation,
                    "now": time.time(),
                }
            )
            self._check(result)
            logger.info(
                "worker joined worker_id=%s incarnation=%s lost_tasks=%s",
                req.worker_id,
                req.incarnation,
                ",".join(result.get("lost", [])) or "-",
            )
            if result.get("lost"):
                self.notify_work()
            draining = False
        if req.draining != draining:
            self._check(
                propose(
                    {
                        "op": "drain",
                        "epoch": epoch,
                        "worker_id": req.worker_id,
                        "draining": req.draining,
                    }
                )
            )
        return reaped_by

    def _reconcile(
        self, req: pb.PulseRequest
    ) -> tuple[list[pb.AttemptRef], list[pb.Assignment]]:
        reported = {(r.task_id, r.attempt) for r in req.running}
        kill, redeliver = [], []
        with self._state.lock:
            worker = self._state.workers.get(req.worker_id)
            own: dict[str, int] = {}
            if worker is not None and worker.incarnation == req.incarnation:
                own = dict(worker.running)
            for task_id, number in sorted(reported):
                task = self._state.tasks.get(task_id)
                if (
                    own.get(task_id) != number
                    or task is None
                    or (task.state == TaskState.CANCELLED)
                ):
                    kill.append(pb.AttemptRef(task_id=task_id, attempt=number))
            for task_id, number in own.items():
                task = self._state.tasks[task_id]
                if (
                    task_id,
                    number,
                ) not in reported and task.state == TaskState.RUNNING:
                    redeliver.append(self._assignment(task_id, number))
        return kill, redeliver

    def _assignment(self, task_id: str, number: int) -> pb.Assignment:
        spec = self._state.tasks[task_id].spec
        return pb.Assignment(
            task_id=task_id,
            attempt=number,
            spec=spec_to_proto(spec),
            lease_s=self._lease_s,
        )

    def _assign(
        self, epoch: int, propose: Propose, req: pb.PulseRequest, slots: int
    ) -> list[pb.Assignment]:
        assigned = []
        with self._assign_lock:
            for choice in choose_tasks(self._state, req.worker_id, slots):
                result = propose(
                    {
                        "op": "assign",
                        "epoch": epoch,
                        "task_id": choice.task_id,
                        "attempt": choice.attempt,
                        "worker_id": req.worker_id,
                        "incarnation": req.incarnation,
                        "now": time.time(),
                    }
                )
                if not result.get("ok"):
                    self._check(result)
                    continue
                logger.info(
                    "task assigned task_id=%s attempt=%d worker_id=%s",
                    choice.task_id,
                    choice.attempt,
                    req.worker_id,
                )
                with self._state.lock:
                    assigned.append(self._assignment(choice.task_id, choice.attempt))
        return assigned

    def report(self, req: pb.ReportRequest) -> pb.ReportReply:
        epoch, propose = self._current()
        propose_all = self._propose_all
        if propose_all is None:
            raise NoLeader("leader services are not running")
        self._liveness.touch(req.worker_id)
        ref = {
            "epoch": epoch,
            "task_id": req.task_id,
            "attempt": req.attempt,
            "worker_id": req.worker_id,
            "incarnation": req.incarnation,
        }
        command: Command = {
            "op": "complete",
            **ref,
            "outcome": req.outcome,
            "exit_code": req.exit_code if req.has_exit_code else None,
            "signal": req.signal,
            "error": req.error,
            "started_at": req.started_at,
            "finished_at": req.finished_at,
            "now": time.time(),
        }
        for stream in ("stdout", "stderr"):
            text: str = getattr(req, stream)
            command[f"{stream}_bytes"] = getattr(req, f"{stream}_bytes")
            command[f"{stream}_truncated"] = getattr(req, f"{stream}_truncated")
            if len(text) <= OUTPUT_CHUNK_CHARS:
                command[stream] = text
                continue
            chunks = [
                text[i : i + OUTPUT_CHUNK_CHARS]
                for i in range(0, len(text), OUTPUT_CHUNK_CHARS)
            ]
            staged_all = propose_all(
                [
                    {"op": "output", **ref, "stream": stream, "index": i, "data": data}
                    for i, data in enumerate(chunks)
                ]
            )
            for staged in staged_all:
                if not staged.get("ok"):
                    return self._report_reply(staged, req)
            command[f"{stream}_chunks"] = len(chunks)
        return self._report_reply(propose(command), req)

    def _report_reply(self, result: Result, req: pb.ReportRequest) -> pb.ReportReply:
        if result.get("ok"):
            state = str(result.get("task_state", ""))
            if not result.get("duplicate"):
                logger.info(
                    "attempt finished task_id=%s attempt=%d outcome=%s state=%s",
                    req.task_id,
                    req.attempt,
                    req.outcome,
                    state,
                )
            if state == TaskState.PENDING:
                self.notify_work()
            return pb.ReportReply(accepted=True, task_state=state)
        if result.get("reason") in STALE_REPORT_REASONS:
            logger.warning(
                "stale result rejected task_id=%s attempt=%d worker_id=%s reason=%s",
                req.task_id,
                req.attempt,
                req.worker_id,
                result.get("reason"),
            )
            return pb.ReportReply(accepted=False)
        self._check(result)
        raise NoLeader(f"result not applied: {result.get('reason')}")

    @staticmethod
    def _check(result: Result) -> None:
        """Stops the request when this node's epoch has been superseded."""
        if result.get("reason") == "stale epoch":
            raise NoLeader("this leader's epoch is over")
