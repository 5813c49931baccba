"""Bearer-token check for the dashboard's HTTP surface."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from titan_ha.dashboard.http_errors import error_body

# The page shell and its assets carry no cluster data, and a browser cannot
# attach a bearer header to a navigation: they stay open so the page can ask
# for the token.
OPEN_PATHS = frozenset({"/", "/healthz"})
OPEN_PREFIXES = ("/static/",)
# EventSource cannot set headers: only the event stream accepts ?token=.
QUERY_TOKEN_PATHS = frozenset({"/api/events"})


class BearerAuth:
    """ASGI middleware: 401 JSON unless the request carries the token.

    Args:
        app: the application to guard.
        token: the expected bearer token.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(HTTPConnection(scope)):
            await self._app(scope, receive, send)
            return
        response = JSONResponse(
            error_body("unauthenticated", "missing or wrong bearer token"),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _allowed(self, conn: HTTPConnection) -> bool:
        path = conn.url.path
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return True
        scheme, _, presented = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            presented = ""
            if path in QUERY_TOKEN_PATHS:
                presented = conn.query_params.get("token", "")
        return bool(presented) and hmac.compare_digest(
            presented.strip().encode(), self._token
        )
