"""The worker agent: a Pulse loop, attempt threads and a result reporter.

The Pulse loop runs on its own thread and is never held up by commands,
their output or reporting, so a healthy busy worker is never reaped. Results
are queued and retried until a leader acknowledges them, across failovers.
A worker that cannot reach any leader for longer than its lease stops its
running attempts (self-fencing), so it never runs an attempt at the same time
as the worker the task was moved to. The lease is watched by a thread of its
own: a Pulse that hangs (a paused or partitioned leader) cannot delay it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict

from titan_ha._proto import titan_pb2 as pb
from titan_ha.api.client import Client
from titan_ha.errors import TitanError, WorkerIdInUse
from titan_ha.models import Outcome
from titan_ha.worker.executors.base import AttemptSpec, Executor
from titan_ha.worker.executors.process_tree import INCARNATION_VAR, kill_leftovers
from titan_ha.worker.rejoins import PulseAnswers
from titan_ha.worker.reports import backoff_s, cannot_run, report_request
from titan_ha.worker.settings import AgentSettings, RunningAttempt

logger = logging.getLogger(__name__)

HOLD_S = 2.0  # how long an idle worker lets the leader hold its Pulse
SEEN_LIMIT = 10_000
REPORT_DEADLINE_S = 5.0
REPORT_CALL_TIMEOUT_S = 4.0
LEASE_CHECK_S = 0.05  # how often the lease watchdog looks at the clock
Ref = tuple[str, int]


class WorkerAgent:
    """Pulls attempts from the leader, runs them and reports their results."""

    def __init__(
        self, settings: AgentSettings, client: Client, executor: Executor
    ) -> None:
        self.settings = settings
        self.incarnation = uuid.uuid4().hex[:12]
        self._client = client
        self._executor = executor
        self._lock = threading.Lock()
        self._running: dict[Ref, RunningAttempt] = {}
        self._seen: OrderedDict[Ref, None] = OrderedDict()
        self._reports: OrderedDict[Ref, pb.ReportRequest] = OrderedDict()
        self._report_ready = threading.Condition(self._lock)
        self._draining = threading.Event()
        # Pulses in flight that were sent before the drain and may still
        # bring assignments.
        self._open_offers = 0
        self._offers_settled = threading.Condition(self._lock)
        self._closing = False
        self._stopped = threading.Event()
        self._wake = threading.Event()  # a slot freed up or we are stopping
        self._lease_s = settings.initial_lease_s
        self._pulse_interval_s = settings.initial_pulse_interval_s
        # When the last Pulse the leader answered was sent: the leader heard
        # from us after that, so a lease counted from here ends before the
        # leader's reaper threshold does.
        self._last_contact = time.monotonic()
        self._answers = PulseAnswers()
        self._reporter = threading.Thread(
            target=self._report_loop, name="reporter", daemon=True
        )
        self._threads = [
            threading.Thread(target=self._pulse_loop, name="pulse", daemon=True),
            threading.Thread(target=self._lease_loop, name="lease", daemon=True),
            self._reporter,
        ]

    # Lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        logger.info(
            "worker started worker_id=%s incarnation=%s concurrency=%d",
            self.settings.worker_id,
            self.incarnation,
            self.settings.concurrency,
        )
        killed = kill_leftovers(self._tag, self.incarnation)
        if killed:
            logger.warning(
                "killed processes left by an earlier run worker_id=%s count=%d",
                self.settings.worker_id,
                killed,
            )
        for thread in self._threads:
            thread.start()

    @property
    def _tag(self) -> dict[str, str]:
        return {
            "TITAN_WORKER_ID": self.settings.worker_id,
            "TITAN_WORKER_CLUSTER": self.settings.cluster,
        }

    def drain(self) -> None:
        """Stops taking work, lets attempts finish within the grace, then stops.

        The leader hears of the drain at once, so it assigns nothing new here;
        an assignment already on its way is still run within the grace.
        """
        self._draining.set()
        self._wake.set()
        logger.info(
            "worker draining worker_id=%s running=%d grace_s=%.0f",
            self.settings.worker_id,
            len(self._running),
            self.settings.drain_grace_s,
        )
        deadline = time.monotonic() + self.settings.drain_grace_s
        self._announce_drain(deadline)
        while self._running and time.monotonic() < deadline:
            time.sleep(0.1)
        with self._lock:
            self._closing = True  # from here on, assignments are refused
        # The task was not cancelled, its worker went away: WORKER_LOST
        # requeues it (within its worker-lost budget) instead of ending it.
        self._stop_all(Outcome.WORKER_LOST, "drain grace over")
        deadline = time.monotonic() + REPORT_DEADLINE_S
        while (self._running or self._reports) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopped.set()
        self._wake.set()
        with self._lock:
            self._report_ready.notify_all()
        # Only the reporter may have something left to say. A Pulse still in
        # flight is abandoned: whatever it brings is refused.
        self._reporter.join(timeout=REPORT_DEADLINE_S)
        self._say_goodbye()
        logger.info(
            "worker stopped worker_id=%s unreported=%d",
            self.settings.worker_id,
            len(self._reports),
        )

    def _say_goodbye(self) -> None:
        """Tells the leader this incarnation is gone, so that a restarted
        worker with the same id is let in at once."""
        request = pb.PulseRequest(
            worker_id=self.settings.worker_id,
            incarnation=self.incarnation,
            draining=True,
            leaving=True,
        )
        try:
            self._client.call("Pulse", request, deadline_s=1.0)
        except TitanError as exc:
            # The reaper will find out after dead_after_s instead.
            logger.warning("goodbye not delivered error=%s", exc)

    def _announce_drain(self, deadline: float) -> None:
        """Tells the leader now, then lets the offers already made arrive."""
        try:
            self._pulse(deadline_s=1.0)
        except TitanError as exc:
            # The pulse loop tells the leader on its next Pulse instead.
            logger.warning("drain not announced error=%s", exc)
        # A Pulse sent before the drain may still bring an assignment: wait
        # for its answer before deciding that nothing runs.
        with self._lock:
            self._offers_settled.wait_for(
                lambda: self._open_offers == 0,
                timeout=max(0.0, deadline - time.monotonic()),
            )

    # Pulse loop ---------------------------------------------------------------
    def _pulse_loop(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            started = time.monotonic()
            try:
                reply, free = self._pulse(deadline_s=HOLD_S + 3.0)
            except WorkerIdInUse as exc:
                if not failures:
                    logger.warning(
                        "%s; waiting until it stops or is declared dead", exc
                    )
                failures += 1
                self._stopped.wait(self._pulse_interval_s)
                continue
            except TitanError as exc:
                failures += 1
                logger.debug("pulse failed failures=%d error=%s", failures, exc)
                self._stopped.wait(backoff_s(failures))
                continue
            failures = 0
            took = time.monotonic() - started
            if not reply.assignments and (free == 0 or took < 0.2):
                self._wake.wait(self._pulse_interval_s if free == 0 else 0.1)
                self._wake.clear()

    def _pulse(self, deadline_s: float) -> tuple[pb.PulseReply, int]:
        """Sends one Pulse and applies its answer; returns it and the free slots.

        Raises:
            TitanError: No leader answered within `deadline_s`.
        """
        with self._lock:
            running = [pb.AttemptRef(task_id=t, attempt=n) for t, n in self._running]
            draining = self._draining.is_set()
            free = (
                0
                if draining
                else max(0, self.settings.concurrency - len(self._running))
            )
            if free:
                self._open_offers += 1
        # A held Pulse counts against the lease (see `_last_contact`), both of
        # what runs here and of what its answer may bring: hold it briefly.
        hold_s = min(HOLD_S, self._lease_s / 4)
        request = pb.PulseRequest(
            worker_id=self.settings.worker_id,
            incarnation=self.incarnation,
            free_slots=free,
            running=running,
            draining=draining,
            wait_s=hold_s if free else 0.0,
        )
        started = time.monotonic()
        try:
            reply: pb.PulseReply = self._client.call(
                "Pulse",
                request,
                deadline_s=deadline_s,
                per_call_timeout_s=request.wait_s + 1.5,
            )
            self._last_contact = max(self._last_contact, started)
            self._answers.record(reply, sent=started)
            self._lease_s = reply.lease_s or self._lease_s
            self._pulse_interval_s = reply.pulse_interval_s or self._pulse_interval_s
            late_s = time.monotonic() - started
            if late_s > self._lease_s and reply.assignments:
                # This process was frozen with the answer in flight: the
                # leader may have reaped us and given these attempts to
                # another worker meanwhile. Starting them now could overlap.
                logger.warning(
                    "stale assignments dropped count=%d late_s=%.1f",
                    len(reply.assignments),
                    late_s,
                )
                del reply.assignments[:]
            self._apply_reply(reply)
        finally:
            if free:
                with self._lock:
                    self._open_offers -= 1
                    self._offers_settled.notify_all()
        return reply, free

    def _lease_loop(self) -> None:
        """Stops every attempt once no leader has answered for a whole lease.

        By then the leader may have declared this worker dead and moved its
        tasks elsewhere; the attempts end WORKER_LOST, which the leader
        accepts or has already recorded itself.
        """
        while not self._stopped.wait(LEASE_CHECK_S):
            silent_s = time.monotonic() - self._last_contact
            if silent_s > self._lease_s and self._running:
                self._stop_all(
                    Outcome.WORKER_LOST, f"lease expired silent_s={silent_s:.1f}"
                )

    def _apply_reply(self, reply: pb.PulseReply) -> None:
        for ref in reply.kill:
            with self._lock:
                entry = self._running.get((ref.task_id, ref.attempt))
            if entry is not None and entry.stop_with(Outcome.CANCELLED):
                logger.info(
                    "attempt stopped by the leader task_id=%s attempt=%d",
                    ref.task_id,
                    ref.attempt,
                )
        for assignment in reply.assignments:
            self._start(assignment)

    def _start(self, assignment: pb.Assignment) -> None:
        ref = (assignment.task_id, assignment.attempt)
        with self._lock:
            if ref in self._seen:
                return  # a re-delivery of an attempt already started here
            if self._closing:
                # Nothing would run or report it: the leader learns it is
                # lost when this worker is reaped or registers again.
                logger.warning(
                    "assignment refused, worker stopping task_id=%s attempt=%d", *ref
                )
                return
            self._seen[ref] = None
            while len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
            entry = RunningAttempt()
            self._running[ref] = entry
        spec = AttemptSpec(
            task_id=assignment.task_id,
            attempt=assignment.attempt,
            command=assignment.spec.command,
            timeout_s=assignment.spec.timeout_s,
            env={**self._tag, INCARNATION_VAR: self.incarnation},
        )
        logger.info("attempt started task_id=%s attempt=%d", *ref)
        threading.Thread(
            target=self._run_attempt,
            args=(spec, entry, assignment.spec.docker_image),
            name=f"attempt-{ref[0]}-{ref[1]}",
            daemon=True,
        ).start()

    def _stop_all(self, outcome: Outcome, why: str) -> None:
        with self._lock:
            entries = list(self._running.items())
        for (task_id, attempt), entry in entries:
            if entry.stop_with(outcome):
                logger.warning(
                    "attempt stopping task_id=%s attempt=%d outcome=%s reason=%s",
                    task_id,
                    attempt,
                    outcome,
                    why,
                )

    # Attempts and reports ----------------------------------------------------
    def _run_attempt(
        self, spec: AttemptSpec, entry: RunningAttempt, docker_image: str = ""
    ) -> None:
        if docker_image:
            result = cannot_run(f"no Docker executor on this worker ({docker_image})")
        else:
            result = self._executor.run(spec, entry.stop)
        outcome = result.outcome
        # Only an attempt the executor actually stopped takes the stop's
        # meaning; one that ended on its own just before keeps its outcome.
        if outcome == Outcome.CANCELLED and entry.stop_outcome is not None:
            outcome = entry.stop_outcome
        logger.info(
            "attempt finished task_id=%s attempt=%d outcome=%s exit_code=%s",
            spec.task_id,
            spec.attempt,
            outcome,
            result.exit_code,
        )
        report = report_request(
            self.settings.worker_id, self.incarnation, spec, result, outcome
        )
        ref = (spec.task_id, spec.attempt)
        with self._lock:
            self._reports[ref] = report
            del self._running[ref]
            self._report_ready.notify_all()
        self._wake.set()

    def _report_loop(self) -> None:
        failures = 0
        while True:
            with self._lock:
                while not self._reports and not self._stopped.is_set():
                    self._report_ready.wait(0.5)
                if not self._reports:
                    return
                ref, report = next(iter(self._reports.items()))
            try:
                # A report with megabytes of output takes the leader a few
                # hundred commits: give one endpoint the time it needs.
                reply: pb.ReportReply = self._client.call(
                    "ReportResult",
                    report,
                    deadline_s=REPORT_DEADLINE_S,
                    per_call_timeout_s=REPORT_CALL_TIMEOUT_S,
                )
            except TitanError as exc:
                failures += 1
                logger.warning(
                    "result not delivered task_id=%s attempt=%d error=%s",
                    ref[0],
                    ref[1],
                    exc,
                )
                if self._stopped.wait(backoff_s(failures)):
                    return
                continue
            failures = 0
            if not reply.accepted:
                logger.warning("result rejected as stale task_id=%s attempt=%d", *ref)
            with self._lock:
                self._reports.pop(ref, None)
