"""The one exception tree of Titan HA.

::

    TitanError
    ├── ConfigError          a configuration or command-line value is invalid
    ├── InvalidRequest       a request the manager refuses as malformed
    ├── NotFound             no such thing
    │   ├── TaskNotFound     no task has that id
    │   └── ManagerNotFound  no manager has that id
    ├── WorkerIdInUse        another live worker process has this id
    ├── Unauthenticated      missing or wrong credentials
    ├── NoLeader             managers answer but none leads (no quorum)
    │   └── NotLeader        this replica is a follower; carries the leader
    ├── Unreachable          no manager of the endpoint list answered
    └── CommitUncertain      a write may or may not have been applied

Foreign errors (grpc, pysyncobj) are translated into these at one boundary
each: ``api.errors`` on the client side, ``manager.grpc_errors`` on the server.
"""

from __future__ import annotations


class TitanError(Exception):
    """Base class of every error Titan raises on purpose."""


class ConfigError(TitanError):
    """Raised when a configuration value or flag is invalid."""


class InvalidRequest(TitanError):
    """Raised when the manager refuses a request as malformed."""


class NotFound(TitanError):
    """Raised when the named object does not exist."""


class TaskNotFound(NotFound):
    """Raised when no task has the requested id."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"no task with id {task_id!r}")
        self.task_id = task_id


class ManagerNotFound(NotFound):
    """Raised when no manager of the group has the requested id."""

    def __init__(self, manager_id: str) -> None:
        super().__init__(f"no manager {manager_id!r} in the cluster")
        self.manager_id = manager_id


class WorkerIdInUse(TitanError):
    """Raised when a worker id is taken by another live worker process."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(
            f"worker id {worker_id!r} is in use by another live worker process"
        )
        self.worker_id = worker_id


class Unauthenticated(TitanError):
    """Raised when credentials are missing or wrong."""


class NoLeader(TitanError):
    """Raised when no leader is known (an election is running, or no quorum)."""


class NotLeader(NoLeader):
    """Raised on a follower for a request only the leader serves."""

    def __init__(self, leader_id: str, leader_grpc: str) -> None:
        super().__init__(f"not the leader; the leader is {leader_id} at {leader_grpc}")
        self.leader_id = leader_id
        self.leader_grpc = leader_grpc


class Unreachable(TitanError):
    """Raised when no manager of the endpoint list could be reached."""


class CommitUncertain(TitanError):
    """Raised when a write was sent but its outcome is unknown.

    Retry it only with the same idempotency key.
    """
