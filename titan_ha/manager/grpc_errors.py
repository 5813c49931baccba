"""Maps Titan errors to gRPC status codes: the server side of the one table.

The client side, ``titan_ha.api.errors``, maps them back.
"""

from __future__ import annotations

import grpc

from titan_ha.errors import (
    CommitUncertain,
    InvalidRequest,
    NoLeader,
    NotFound,
    NotLeader,
    TitanError,
    Unauthenticated,
    WorkerIdInUse,
)
from titan_ha.models import LEADER_ID_KEY, LEADER_KEY, NO_LEADER_KEY

# Most specific first: NotLeader is a NoLeader.
STATUS_OF: tuple[tuple[type[TitanError], grpc.StatusCode], ...] = (
    (NotLeader, grpc.StatusCode.FAILED_PRECONDITION),
    (NoLeader, grpc.StatusCode.UNAVAILABLE),
    (CommitUncertain, grpc.StatusCode.ABORTED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (WorkerIdInUse, grpc.StatusCode.ALREADY_EXISTS),
)


def abort_with(context: grpc.ServicerContext, error: TitanError) -> None:
    """Ends the RPC with the status that stands for ``error``; never returns."""
    code = grpc.StatusCode.INTERNAL
    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            code = status
            break
    if isinstance(error, NotLeader):
        context.set_trailing_metadata(
            ((LEADER_KEY, error.leader_grpc), (LEADER_ID_KEY, error.leader_id))
        )
    elif isinstance(error, NoLeader):
        context.set_trailing_metadata(((NO_LEADER_KEY, "1"),))
    context.abort(code, str(error))
