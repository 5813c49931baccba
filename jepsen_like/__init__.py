"""jepsen_like: our own Jepsen-style harness for Titan HA.

It starts a real local cluster (managers and workers on loopback), runs
client threads that submit and read through ``titan_ha.api``, injects faults
on a seeded schedule, heals, drains, reads the final state from every
manager and judges the run with checkers in the spirit of Jepsen's queue
checker: what was acknowledged must come out, and a timeout is indeterminate,
not a failure. It never imports manager or worker internals; it reaches the
cluster only through ``titan_ha.api`` and real processes and signals.

Layout: ``runner`` drives one run; ``cluster`` owns the processes;
``nemesis`` the faults; ``workload`` and ``clients`` the load; ``history``
and ``witness`` what was observed; ``observe`` the final reads;
``checkers`` the verdicts; ``report`` the files a person reads.
"""

from __future__ import annotations

from jepsen_like.config import NEMESES, RunConfig
from jepsen_like.runner import run

__all__ = ["NEMESES", "RunConfig", "run"]
