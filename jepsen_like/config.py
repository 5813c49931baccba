"""What one run is asked to do: a frozen value built from the CLI's flags."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jepsen_like.netns import netns_usable
from titan_ha.config import TEST_FAULTS
from titan_ha.errors import ConfigError

# Every nemesis the runner knows, in the order the CLI lists them.
NEMESES = (
    "kill-leader",
    "pause-leader",
    "partition-leader",
    "kill-worker",
    "pause-worker",
    "restart-all",
)
WORKER_SCOPES = ("tree", "process")
# How partition-leader cuts the leader off: network namespaces (root only),
# a TCP proxy in front of every Raft port, or the first of these that works.
PARTITION_MODES = ("auto", "netns", "proxy")


@dataclass(frozen=True)
class RunConfig:
    """One run of the harness.

    Attributes:
        out: Directory that receives every artefact of the run.
        seed: Seeds the workload and the fault schedule.
        duration_s: Seconds of client load and faults.
        managers: Manager replicas to start.
        workers: Workers to start.
        worker_concurrency: Attempt slots per worker.
        clients: Client threads.
        rate: Target client operations per second, all clients together.
        nemeses: Fault kinds to draw from; empty means no faults.
        dead_after_s: The cluster's reaper threshold.
        pulse_interval_s: The cluster's worker pulse interval.
        worker_scope: ``tree`` signals a worker with every process of its
            attempts (a host or container failing); ``process`` signals the
            worker process alone (its attempts run on as orphans).
        test_faults: TITAN_TEST_FAULTS for the managers (a broken build).
        partition_mode: One of PARTITION_MODES; used with partition-leader.
        drain_timeout_s: Longest wait for every task to become final.
        reuse_ratio: Share of submits that reuse an earlier idempotency key.
        max_failover_p50_s: Availability is invalid above this median.
    """

    out: Path
    seed: int = 1
    duration_s: float = 60.0
    managers: int = 3
    workers: int = 3
    worker_concurrency: int = 2
    clients: int = 4
    rate: float = 4.0
    nemeses: tuple[str, ...] = field(default=())
    dead_after_s: float = 3.0
    pulse_interval_s: float = 0.5
    worker_scope: str = "tree"
    test_faults: tuple[str, ...] = ()
    partition_mode: str = "auto"
    drain_timeout_s: float = 90.0
    reuse_ratio: float = 0.1
    max_failover_p50_s: float = 1.5

    def validate(self) -> RunConfig:
        """Returns self; raises ConfigError for a value the runner cannot use."""
        _known("nemesis", self.nemeses, NEMESES)
        _known("test fault", self.test_faults, sorted(TEST_FAULTS))
        if self.managers < 1 or self.workers < 1 or self.clients < 1:
            raise ConfigError("managers, workers and clients must be at least 1")
        if self.duration_s <= 0 or self.rate <= 0:
            raise ConfigError("duration and rate must be positive")
        if not 0 <= self.reuse_ratio < 1:
            raise ConfigError("reuse ratio must be in [0, 1)")
        if self.worker_scope not in WORKER_SCOPES:
            raise ConfigError(f"worker scope must be one of {', '.join(WORKER_SCOPES)}")
        self._validate_partition_mode()
        if "'" in str(self.out.resolve()):
            raise ConfigError("the output path must not contain a single quote")
        needs_quorum = {"kill-leader", "pause-leader", "partition-leader"}
        if self.managers < 3 and needs_quorum & set(self.nemeses):
            raise ConfigError("leader faults need at least 3 managers")
        return self

    def _validate_partition_mode(self) -> None:
        if self.partition_mode not in PARTITION_MODES:
            modes = ", ".join(PARTITION_MODES)
            raise ConfigError(f"partition mode must be one of {modes}")
        if self.partition_mode == "netns" and (why := netns_usable()):
            raise ConfigError(f"partition mode netns: {why}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        return data


def _known(what: str, names: Iterable[str], known: Iterable[str]) -> None:
    known = tuple(known)
    for name in names:
        if name not in known:
            raise ConfigError(f"unknown {what} {name!r} (known: {','.join(known)})")


def check_out_dir(out: Path) -> None:
    """Raises ConfigError unless ``out`` is new or empty: a run owns it."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out} is not a directory")
    if (out / "history.jsonl").exists() or (out / "run.json").exists():
        raise ConfigError(f"{out} already holds a run; choose another --out")
    if any(out.iterdir()):
        raise ConfigError(f"{out} is not empty; choose a new or empty --out")


class HarnessError(RuntimeError):
    """Raised when the cluster under test cannot be brought up or read."""
