"""A worker agent's settings and its record of one running attempt."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from titan_ha.models import Outcome


@dataclass
class RunningAttempt:
    """An attempt this worker runs, and how to stop it."""

    stop: threading.Event = field(default_factory=threading.Event)
    stop_outcome: Outcome | None = None  # what a stop means for the report

    def stop_with(self, outcome: Outcome) -> bool:
        """Asks the attempt to stop; False if it was already asked to."""
        if self.stop.is_set():
            return False
        self.stop_outcome = outcome
        self.stop.set()
        return True


@dataclass(frozen=True)
class AgentSettings:
    """How one worker agent runs."""

    worker_id: str
    concurrency: int = 1
    drain_grace_s: float = 30.0
    initial_lease_s: float = 4.0
    initial_pulse_interval_s: float = 1.0
    # Names the cluster in attempt environments, so that a restarted worker
    # finds its predecessor's leftovers and no other cluster's.
    cluster: str = ""
