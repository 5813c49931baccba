"""What the dashboard reads, and how: one replica, through the client library.

Every read is local to the replica the client points at, except the cluster
status, which the client fetches from the leader when there is one and from
this replica when there is not. Nothing here talks gRPC directly.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from titan_ha.api.views import ClusterStatus, TaskView
from titan_ha.errors import TitanError

logger = logging.getLogger(__name__)

TASK_STATES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
REPLICA_KEYS = ("id", "role", "term", "commit_index", "applied_index", "rejections")
# Short deadlines: a page must answer quickly even while a failover runs.
STATUS_DEADLINE_S = 1.5
READ_DEADLINE_S = 2.0
INFO_DEADLINE_S = 1.0


class ReadClient(Protocol):
    """The part of ``titan_ha.api.Client`` the dashboard uses."""

    def status(self, *, deadline_s: float = ...) -> ClusterStatus: ...

    def node_info(self, *, deadline_s: float = ...) -> dict[str, object]: ...

    def tasks(
        self,
        state: str | None = ...,
        limit: int = ...,
        *,
        local: bool = ...,
        deadline_s: float = ...,
    ) -> list[TaskView]: ...

    def get(
        self, task_id: str, *, local: bool = ..., deadline_s: float = ...
    ) -> TaskView: ...


class ReplicaReader:
    """Reads one replica's view and renders it in the CLI's JSON shapes.

    Args:
        client: a client whose first endpoint is the replica to read.
    """

    def __init__(self, client: ReadClient) -> None:
        self._client = client

    def replica(self) -> dict[str, Any]:
        """This replica's own Raft view: id, role, term, indexes, rejections.

        Raises:
            TitanError: the replica did not answer.
        """
        info = self._client.node_info(deadline_s=INFO_DEADLINE_S)
        return {key: info.get(key) for key in REPLICA_KEYS}

    def cluster(self) -> ClusterStatus:
        """The cluster status, stale (leader None) when no leader answers."""
        return self._client.status(deadline_s=STATUS_DEADLINE_S)

    def status(self) -> dict[str, Any]:
        """``titan status --json`` plus this replica's view under ``replica``."""
        body = self.cluster().to_json()
        body["replica"] = self.replica()
        return body

    def tasks(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        """``titan tasks --json`` from this replica's state, newest first."""
        views = self._client.tasks(state, limit, local=True, deadline_s=READ_DEADLINE_S)
        return [view.to_json(with_output=False) for view in views]

    def task(self, task_id: str) -> dict[str, Any]:
        """``titan get --json`` from this replica's state."""
        view = self._client.get(task_id, local=True, deadline_s=READ_DEADLINE_S)
        return view.to_json()


@dataclass(frozen=True)
class Snapshot:
    """One tick's worth of data for the live page."""

    status: dict[str, Any]
    tasks: list[dict[str, Any]]


class Snapshots:
    """Shares one fetch per tick among every open event stream.

    Without it each open browser tab would cost the managers a status read
    (a Raft barrier on the leader) every second.

    Args:
        reader: where snapshots come from.
        window: how many of the newest tasks a snapshot carries.
        max_age_s: a snapshot younger than this is served again.
    """

    def __init__(self, reader: ReplicaReader, window: int, max_age_s: float) -> None:
        self._reader = reader
        self._window = window
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._taken_at = -float("inf")
        self._last: Snapshot | TitanError | None = None

    def take(self) -> Snapshot:
        """The current snapshot, fetched anew when the last one is too old.

        Raises:
            TitanError: the replica could not be read (also shared for a tick).
        """
        with self._lock:
            if self._last is None or time.monotonic() - self._taken_at >= (
                self._max_age_s
            ):
                self._last = self._fetch()
                self._taken_at = time.monotonic()
            last = self._last
        if isinstance(last, TitanError):
            raise last
        return last

    def _fetch(self) -> Snapshot | TitanError:
        try:
            return Snapshot(
                self._reader.status(), self._reader.tasks(None, self._window)
            )
        except TitanError as exc:
            logger.warning("dashboard snapshot failed error=%s", exc)
            return exc
