"""Prometheus metrics, computed from the replica at each scrape."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from titan_ha.dashboard.source import TASK_STATES, ReplicaReader
from titan_ha.errors import TitanError

logger = logging.getLogger(__name__)

WORKER_STATES = ("IDLE", "BUSY", "DRAINING", "DEAD")


class TitanCollector(Collector):
    """Reads the replica on every scrape; nothing is cached between scrapes.

    A source that cannot be read leaves its metrics out of that scrape (and
    logs a warning) rather than failing the whole scrape.
    """

    def __init__(self, reader: ReplicaReader) -> None:
        self._reader = reader

    def collect(self) -> Iterator[Metric]:
        yield from self._replica_metrics()
        yield from self._cluster_metrics()

    def _replica_metrics(self) -> Iterator[Metric]:
        try:
            info = self._reader.replica()
        except TitanError as exc:
            logger.warning("metrics left out source=replica error=%s", exc)
            return
        yield _gauge("titan_raft_term", "Raft term this replica is in.", info["term"])
        yield _gauge(
            "titan_raft_commit_index",
            "Highest Raft log index this replica knows to be committed.",
            info["commit_index"],
        )
        yield _gauge(
            "titan_raft_applied_index",
            "Highest Raft log index this replica has applied.",
            info["applied_index"],
        )
        yield _gauge(
            "titan_is_leader",
            "1 if this replica is the Raft leader, else 0.",
            1 if info["role"] == "leader" else 0,
        )
        rejections = CounterMetricFamily(
            "titan_state_rejections",
            "Replicated commands the state machine rejected, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(dict(info["rejections"] or {}).items()):
            rejections.add_metric([str(reason)], float(count))
        yield rejections

    def _cluster_metrics(self) -> Iterator[Metric]:
        try:
            status = self._reader.cluster()
        except TitanError as exc:
            logger.warning("metrics left out source=status error=%s", exc)
            return
        tasks = GaugeMetricFamily("titan_tasks", "Tasks by state.", labels=["state"])
        for state in TASK_STATES:
            tasks.add_metric([state], float(status.tasks.get(state, 0)))
        yield tasks
        counts = Counter(worker.state for worker in status.workers)
        workers = GaugeMetricFamily(
            "titan_workers", "Registered workers by state.", labels=["state"]
        )
        for state in sorted(set(WORKER_STATES) | set(counts)):
            workers.add_metric([state], float(counts.get(state, 0)))
        yield workers


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def build_registry(reader: ReplicaReader) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) for one app."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TitanCollector(reader))
    return registry
