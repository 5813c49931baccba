"""Nemeses: faults applied on a seeded schedule, one at a time, then healed.

The schedule (when, which kind, how long, which variant, a number that
picks the target) is drawn from the seed alone, so a seed always asks for
the same faults. Targets that depend on the run ("the leader", "a busy
worker") are resolved when the fault starts. Each fault is logged to
``nemesis.jsonl`` as ``start`` and ``heal`` (and ``recovered`` once the
cluster is healthy again, or ``skipped`` when it could not start).
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

from jepsen_like.cluster import HarnessCluster
from jepsen_like.history import JsonlLog

logger = logging.getLogger(__name__)

WARMUP_S = 3.0
LEADER_FAULTS = ("kill-leader", "pause-leader", "partition-leader")
RECOVERY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Fault:
    """One planned fault: ``kind`` at ``at_s`` for ``hold_s``."""

    at_s: float
    kind: str
    hold_s: float
    variant: str
    pick: float  # in [0, 1): which of the candidate targets

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build_schedule(
    seed: int,
    nemeses: tuple[str, ...],
    duration_s: float,
    dead_after_s: float,
    election_max_s: float,
) -> list[Fault]:
    """Faults from the seed alone: every enabled kind in turn, shuffled per round."""
    if not nemeses:
        return []
    rng = random.Random(f"jepsen-like/{seed}/nemesis")
    faults: list[Fault] = []
    at_s = WARMUP_S
    order: list[str] = []
    while True:
        if not order:
            order = list(nemeses)
            rng.shuffle(order)
        kind = order.pop()
        hold_s, variant = _hold(rng, kind, dead_after_s, election_max_s)
        if at_s + hold_s > duration_s - 2.0:
            return faults
        faults.append(
            Fault(round(at_s, 2), kind, round(hold_s, 2), variant, rng.random())
        )
        at_s += hold_s + rng.uniform(2.0, 5.0)


def _hold(
    rng: random.Random, kind: str, dead_after_s: float, election_max_s: float
) -> tuple[float, str]:
    """How long a fault lasts, and its variant relative to the cluster's timers."""
    if kind.startswith("pause") or kind == "partition-leader":
        if rng.random() < 0.5:
            # Longer than an election, shorter than the reaper's threshold.
            low = 0.5 if kind == "pause-worker" else 2 * election_max_s
            return rng.uniform(low, max(low, 0.8 * dead_after_s)), "short"
        return dead_after_s + rng.uniform(1.0, 3.0), "long"
    if kind == "kill-leader":
        return rng.uniform(1.0, 4.0), "restart"
    if kind == "kill-worker":
        variant = "before-reap" if rng.random() < 0.5 else "after-reap"
        if variant == "before-reap":
            return rng.uniform(0.3, 0.8 * dead_after_s), variant
        return dead_after_s + rng.uniform(0.5, 2.0), variant
    if kind == "restart-all":
        return rng.uniform(0.5, 2.0), "kill-all"
    return rng.uniform(2.0, 5.0), "default"


class NemesisThread:
    """Runs the schedule against the cluster until it ends or ``stop`` is set."""

    def __init__(
        self,
        cluster: HarnessCluster,
        schedule: list[Fault],
        log: JsonlLog,
        worker_tree: bool,
        stop: threading.Event,
    ) -> None:
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._cluster = cluster
        self._schedule = schedule
        self._log = log
        self._tree = worker_tree
        self._halt = stop

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def _run(self) -> None:
        for fault in self._schedule:
            delay = fault.at_s - self._log.clock.now()
            if self._halt.wait(max(0.0, delay)):
                return
            try:
                self._apply(fault)
            except Exception as exc:
                # The run goes on without this fault; the heal below and the
                # runner's final heal bring every process back. The error is
                # logged to nemesis.jsonl, which makes the run invalid.
                logger.exception("nemesis failed kind=%s", fault.kind)
                self._log.append(kind=fault.kind, phase="error", error=repr(exc))
                self._cluster.resume_all()
                self._cluster.heal_partition()
                self._cluster.restart_dead()
            if self._halt.is_set():
                return  # the runner's final heal waits for recovery
            recovered_s = self._cluster.wait_healthy(RECOVERY_TIMEOUT_S)
            self._log.append(
                kind=fault.kind,
                phase="recovered",
                recovery_s=None if recovered_s is None else round(recovered_s, 3),
            )

    def _apply(self, fault: Fault) -> None:
        target = self._pick_target(fault)
        if target is None:
            self._log.append(kind=fault.kind, phase="skipped", reason="no target")
            return
        # Stamped before the signals go out, so a fault window never starts
        # late and failover times err on the long side.
        started = round(self._log.clock.now(), 6)
        pids = self._inject(fault.kind, target)
        logger.info("fault started kind=%s target=%s pids=%s", fault.kind, target, pids)
        self._log.append(
            time=started,
            kind=fault.kind,
            phase="start",
            target=target,
            pids=pids,
            hold_s=fault.hold_s,
            variant=fault.variant,
        )
        self._halt.wait(fault.hold_s)
        self._heal(fault.kind, target)
        self._log.append(kind=fault.kind, phase="heal", target=target)
        logger.info("fault healed kind=%s target=%s", fault.kind, target)

    def _pick_target(self, fault: Fault) -> str | None:
        if fault.kind in LEADER_FAULTS:
            return self._cluster.leader(timeout_s=10.0)
        if fault.kind == "restart-all":
            return "all-managers"
        busy = self._cluster.busy_workers()
        candidates = busy or self._cluster.worker_ids
        return candidates[int(fault.pick * len(candidates))]

    def _inject(self, kind: str, target: str) -> list[int]:
        cluster = self._cluster
        if kind == "kill-leader":
            return cluster.kill(target)
        if kind == "pause-leader":
            return cluster.pause(target)
        if kind == "kill-worker":
            return cluster.kill(target, tree=self._tree)
        if kind == "pause-worker":
            return cluster.pause(target, tree=self._tree)
        if kind == "restart-all":
            return [pid for m in cluster.manager_ids for pid in cluster.kill(m)]
        if kind == "partition-leader":
            return cluster.partition(target)
        raise ValueError(f"nemesis {kind} cannot be applied")

    def _heal(self, kind: str, target: str) -> None:
        if kind.startswith("pause"):
            self._cluster.resume(target)
        if kind == "partition-leader":
            self._cluster.heal_partition()
        crashes = {
            name: status
            for name, status in self._cluster.restart_dead().items()
            if status is not None
        }
        if crashes:
            self._log.append(kind=kind, phase="crash", crashed=crashes)


def heal_everything(cluster: HarnessCluster, log: JsonlLog) -> None:
    """The final heal: resume every paused process, restart every dead one.

    A process found dead that no fault killed crashed: that is logged as a
    ``crash`` event, which the nemesis checker reports.
    """
    cluster.resume_all()
    cluster.heal_partition()
    crashes = cluster.crashed()
    if crashes:
        log.append(kind="final-heal", phase="crash", crashed=crashes)
    started = cluster.restart_dead()
    log.append(kind="final-heal", phase="heal", target=",".join(started) or "-")
