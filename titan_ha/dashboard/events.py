"""The live feed of ``/api/events``: server-sent events, one tick a second.

Each tick sends a ``status`` event (the ``/api/status`` JSON) and one ``task``
event per task whose state changed since the previous tick. On connect every
task of the window counts as changed, so a page needs no separate first
fetch, and a reconnecting page is brought up to date the same way. When the
replica cannot be read, the tick sends an ``unavailable`` event instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from titan_ha.dashboard.http_errors import describe
from titan_ha.dashboard.source import Snapshots
from titan_ha.errors import TitanError

RECONNECT_MS = 2000


def sse(event: str, payload: object) -> str:
    """One server-sent event carrying ``payload`` as compact JSON."""
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {event}\ndata: {data}\n\n"


class TaskChanges:
    """Remembers the state of each task in the window between ticks."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    def update(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The tasks of ``tasks`` that are new or changed state since the last call.

        Tasks gone from the window are forgotten.
        """
        changed = [t for t in tasks if self._states.get(t["id"]) != t["state"]]
        self._states = {t["id"]: t["state"] for t in tasks}
        return changed


async def event_stream(
    snapshots: Snapshots, stopping: threading.Event, tick_s: float
) -> AsyncIterator[str]:
    """Yields server-sent events until the client leaves or the server stops."""
    changes = TaskChanges()
    yield f"retry: {RECONNECT_MS}\n\n"
    while not stopping.is_set():
        started = time.monotonic()
        try:
            snapshot = await run_in_threadpool(snapshots.take)
        except TitanError as exc:
            _, body = describe(exc)
            yield sse("unavailable", body)
        else:
            # One write per tick; tasks oldest first, so a page that prepends
            # rows keeps the newest on top.
            changed = reversed(changes.update(snapshot.tasks))
            yield sse("status", snapshot.status) + "".join(
                sse("task", task) for task in changed
            )
        await anyio.sleep(max(0.0, tick_s - (time.monotonic() - started)))
