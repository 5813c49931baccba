"""Titan errors as HTTP answers: the dashboard's one mapping table."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from titan_ha.errors import (
    CommitUncertain,
    InvalidRequest,
    NoLeader,
    NotFound,
    TitanError,
    Unauthenticated,
    Unreachable,
)

# Most specific first. NotLeader is a NoLeader: a redirect that could not be
# followed leaves the dashboard without an answer just the same.
ERROR_TABLE: tuple[tuple[type[TitanError], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (InvalidRequest, 400, "invalid_request"),
    (NoLeader, 503, "no_leader"),
    (Unreachable, 503, "unreachable"),
    (CommitUncertain, 503, "commit_uncertain"),
    # The manager refused the dashboard's own token: a set-up problem of the
    # server side, not of the browser that asked.
    (Unauthenticated, 502, "manager_refused_credentials"),
)


def error_body(code: str, message: str) -> dict[str, str]:
    """The JSON every dashboard error carries."""
    return {"error": code, "message": message}


def describe(exc: TitanError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body that stand for ``exc``."""
    for error_type, status_code, code in ERROR_TABLE:
        if isinstance(exc, error_type):
            return status_code, error_body(code, str(exc))
    return 502, error_body("manager_error", str(exc))


async def titan_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for every ``TitanError``."""
    if not isinstance(exc, TitanError):  # pragma: no cover - registered for it
        raise exc
    status_code, body = describe(exc)
    return JSONResponse(body, status_code=status_code)
