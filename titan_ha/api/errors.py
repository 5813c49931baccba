"""Maps gRPC failures to Titan errors: the client side of the one table."""

from __future__ import annotations

from typing import Any

import grpc

from titan_ha.errors import (
    CommitUncertain,
    InvalidRequest,
    NoLeader,
    NotFound,
    NotLeader,
    TaskNotFound,
    TitanError,
    Unauthenticated,
    Unreachable,
    WorkerIdInUse,
)
from titan_ha.models import LEADER_ID_KEY, LEADER_KEY, NO_LEADER_KEY

# Codes that mean "this endpoint could not answer": try the next one.
UNREACHABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
    }
)


def leader_hint(error: grpc.RpcError) -> NotLeader | None:
    """The redirect carried by a follower's answer, if any."""
    if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
        return None
    metadata = _metadata(error)
    address = metadata.get(LEADER_KEY)
    if not address:
        return None
    return NotLeader(str(metadata.get(LEADER_ID_KEY, "")), str(address))


def translate(error: grpc.RpcError, endpoint: str) -> TitanError:
    """The Titan error that stands for a failed RPC."""
    code, details = error.code(), error.details() or ""
    hint = leader_hint(error)
    if hint is not None:
        return hint
    if code == grpc.StatusCode.NOT_FOUND:
        if details.startswith("no task with id "):
            return TaskNotFound(details.removeprefix("no task with id ").strip("'"))
        return NotFound(details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequest(details)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return Unauthenticated(details or "unauthenticated")
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return WorkerIdInUse(details.split("'")[1] if "'" in details else details)
    if code == grpc.StatusCode.ABORTED:
        return CommitUncertain(details)
    if code == grpc.StatusCode.UNAVAILABLE and _said_no_leader(error):
        return NoLeader(f"{endpoint}: {details}")
    if code in UNREACHABLE_CODES:
        reason = (
            "timed out"
            if code == grpc.StatusCode.DEADLINE_EXCEEDED
            else ("connection failed")
        )
        return Unreachable(f"{endpoint} {reason}")
    return TitanError(f"{endpoint}: {code.name}: {details}")


def _said_no_leader(error: grpc.RpcError) -> bool:
    """True when a live manager answered that it knows no leader."""
    return NO_LEADER_KEY in _metadata(error)


def _metadata(error: grpc.RpcError) -> dict[str, str]:
    pairs: Any = error.trailing_metadata() or ()
    return {str(key): str(value) for key, value in pairs}
