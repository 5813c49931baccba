"""Vocabulary shared by every role: states, outcomes and limits.

A *task* is what an operator asks for; an *attempt* is one run of it on one
worker. These names appear in the replicated state, on the wire and in the
CLI's JSON, so they never change meaning.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where a task is in its lifecycle."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_TASK_STATES


FINAL_TASK_STATES = frozenset(
    {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED}
)


class Outcome(StrEnum):
    """How one attempt ended."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    OOM_KILLED = "OOM_KILLED"
    WORKER_LOST = "WORKER_LOST"
    CANCELLED = "CANCELLED"
    ERROR = "ERROR"


class WorkerState(StrEnum):
    """A worker as the leader sees it."""

    IDLE = "IDLE"
    BUSY = "BUSY"
    DEAD = "DEAD"
    DRAINING = "DRAINING"


# Each output stream keeps at most this many bytes of text: its head and its
# tail, with OUTPUT_MARKER between them.
OUTPUT_CAP_BYTES = 1024 * 1024
OUTPUT_MARKER = "\n…[titan: {skipped} bytes of output skipped]…\n"

# Attempts that end WORKER_LOST are bounded separately from max_retries: a task
# whose attempts keep killing (or losing) their worker fails after this many.
MAX_WORKER_LOST = 3

# A command travels inside one Raft entry and becomes one exec argument:
# longer ones belong in a script.
MAX_COMMAND_BYTES = 32 * 1024

# Idempotency keys the client makes up for retries (the user gave none).
AUTO_KEY_PREFIX = "auto-"

# gRPC messages carry at most two capped streams plus metadata.
GRPC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024

# Every channel and server: message limits set deliberately on both sides,
# and a reconnect backoff short enough to reach a new leader at once.
GRPC_CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.enable_retries", 0),
)

# Trailing metadata of a follower's redirect (the leader's gRPC address and
# id), and of an UNAVAILABLE that a live manager sent because it knows no
# leader, so that clients can tell it from a transport failure.
LEADER_KEY = "titan-leader"
LEADER_ID_KEY = "titan-leader-id"
NO_LEADER_KEY = "titan-no-leader"
