"""The dashboard's HTTP app: the page, its JSON API, the event stream, metrics."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from titan_ha.dashboard.auth import BearerAuth
from titan_ha.dashboard.events import event_stream
from titan_ha.dashboard.http_errors import titan_error_handler
from titan_ha.dashboard.metrics import build_registry
from titan_ha.dashboard.source import (
    TASK_STATES,
    ReadClient,
    ReplicaReader,
    Snapshots,
)
from titan_ha.errors import InvalidRequest, TitanError

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_LIMIT = 50  # as ``titan tasks``
LIVE_WINDOW = 200  # newest tasks the live page follows
NO_STORE = {"Cache-Control": "no-store"}


class _Endpoints:
    """The request handlers; sync ones run in Starlette's thread pool."""

    def __init__(self, reader: ReplicaReader, tick_s: float) -> None:
        self.reader = reader
        self.tick_s = tick_s
        self.snapshots = Snapshots(reader, LIVE_WINDOW, max_age_s=tick_s * 0.9)
        self.registry = build_registry(reader)
        self.stopping = threading.Event()

    def index(self, request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers=NO_STORE)

    def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    def status(self, request: Request) -> Response:
        return JSONResponse(self.reader.status(), headers=NO_STORE)

    def tasks(self, request: Request) -> Response:
        state = request.query_params.get("state", "").strip().upper() or None
        if state is not None and state not in TASK_STATES:
            raise InvalidRequest(f"unknown state {state!r}")
        limit = _limit(request.query_params.get("limit", ""))
        return JSONResponse(self.reader.tasks(state, limit), headers=NO_STORE)

    def task(self, request: Request) -> Response:
        task_id = str(request.path_params["task_id"])
        return JSONResponse(self.reader.task(task_id), headers=NO_STORE)

    def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def events(self, request: Request) -> Response:
        return StreamingResponse(
            event_stream(self.snapshots, self.stopping, self.tick_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def _limit(raw: str) -> int:
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidRequest(f"limit must be a whole number, not {raw!r}") from None
    if limit < 0:
        raise InvalidRequest("limit must be 0 (all) or more")
    return limit


def create_app(
    client: ReadClient, token: str | None = None, *, tick_s: float = 1.0
) -> Starlette:
    """The dashboard of the replica ``client`` reads.

    Args:
        client: a ``titan_ha.api.Client`` whose single endpoint is this
            replica's gRPC address (or anything with the same read methods).
        token: when set, every path but ``/healthz`` and the page shell needs
            ``Authorization: Bearer TOKEN`` (``?token=`` on ``/api/events``).
        tick_s: seconds between two ticks of the event stream.

    Returns:
        The app; ``app.state.stopping`` (a ``threading.Event``) ends every
        open event stream when set.
    """
    handlers = _Endpoints(ReplicaReader(client), tick_s)
    routes = [
        Route("/", handlers.index),
        Route("/healthz", handlers.healthz),
        Route("/api/status", handlers.status),
        Route("/api/tasks", handlers.tasks),
        Route("/api/tasks/{task_id}", handlers.task),
        Route("/api/events", handlers.events),
        Route("/metrics", handlers.metrics),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [Middleware(BearerAuth, token=token)] if token else []
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={TitanError: titan_error_handler},
    )
    app.state.stopping = handlers.stopping
    return app
