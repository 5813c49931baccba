from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskSpec(_message.Message):
    __slots__ = ("command", "timeout_s", "max_retries", "idempotency_key", "docker_image", "cpus", "memory_bytes", "network")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DOCKER_IMAGE_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    command: str
    timeout_s: float
    max_retries: int
    idempotency_key: str
    docker_image: str
    cpus: float
    memory_bytes: int
    network: str
    def __init__(self, command: _Optional[str] = ..., timeout_s: _Optional[float] = ..., max_retries: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., docker_image: _Optional[str] = ..., cpus: _Optional[float] = ..., memory_bytes: _Optional[int] = ..., network: _Optional[str] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: TaskSpec
    def __init__(self, spec: _Optional[_Union[TaskSpec, _Mapping]] = ...) -> None: ...

class SubmitReply(_message.Message):
    __slots__ = ("task_id", "existed")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    existed: bool
    def __init__(self, task_id: _Optional[str] = ..., existed: _Optional[bool] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id", "local")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    local: bool
    def __init__(self, task_id: _Optional[str] = ..., local: _Optional[bool] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("state", "limit", "local")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    state: str
    limit: int
    local: bool
    def __init__(self, state: _Optional[str] = ..., limit: _Optional[int] = ..., local: _Optional[bool] = ...) -> None: ...

class ListTasksReply(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class CancelReply(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    def __init__(self, state: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("number", "worker_id", "outcome", "has_exit_code", "exit_code", "signal", "started_at", "finished_at", "error", "opened_by_epoch", "opened_in_epoch", "ended_by_epoch", "ended_in_epoch")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HAS_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_EPOCH_FIELD_NUMBER: _ClassVar[int]
    OPENED_IN_EPOCH_FIELD_NUMBER: _ClassVar[int]
    ENDED_BY_EPOCH_FIELD_NUMBER: _ClassVar[int]
    ENDED_IN_EPOCH_FIELD_NUMBER: _ClassVar[int]
    number: int
    worker_id: str
    outcome: str
    has_exit_code: bool
    exit_code: int
    signal: str
    started_at: float
    finished_at: float
    error: str
    opened_by_epoch: int
    opened_in_epoch: int
    ended_by_epoch: int
    ended_in_epoch: int
    def __init__(self, number: _Optional[int] = ..., worker_id: _Optional[str] = ..., outcome: _Optional[str] = ..., has_exit_code: _Optional[bool] = ..., exit_code: _Optional[int] = ..., signal: _Optional[str] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., error: _Optional[str] = ..., opened_by_epoch: _Optional[int] = ..., opened_in_epoch: _Optional[int] = ..., ended_by_epoch: _Optional[int] = ..., ended_in_epoch: _Optional[int] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("id", "state", "spec", "submitted_at", "finished_at", "worker_id", "has_exit_code", "exit_code", "outcome", "stdout", "stderr", "stdout_bytes", "stderr_bytes", "stdout_truncated", "stderr_truncated", "attempts", "seq", "attempt_count")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    STDERR_BYTES_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: str
    spec: TaskSpec
    submitted_at: float
    finished_at: float
    worker_id: str
    has_exit_code: bool
    exit_code: int
    outcome: str
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    stdout_truncated: bool
    stderr_truncated: bool
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    seq: int
    attempt_count: int
    def __init__(self, id: _Optional[str] = ..., state: _Optional[str] = ..., spec: _Optional[_Union[TaskSpec, _Mapping]] = ..., submitted_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., worker_id: _Optional[str] = ..., has_exit_code: _Optional[bool] = ..., exit_code: _Optional[int] = ..., outcome: _Optional[str] = ..., stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., stdout_bytes: _Optional[int] = ..., stderr_bytes: _Optional[int] = ..., stdout_truncated: _Optional[bool] = ..., stderr_truncated: _Optional[bool] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., seq: _Optional[int] = ..., attempt_count: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("local",)
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    local: bool
    def __init__(self, local: _Optional[bool] = ...) -> None: ...

class ManagerInfo(_message.Message):
    __slots__ = ("id", "grpc", "role", "commit_index", "applied_index", "term", "leader_id", "rejections", "stale_applied")
    class RejectionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class StaleAppliedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    GRPC_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    STALE_APPLIED_FIELD_NUMBER: _ClassVar[int]
    id: str
    grpc: str
    role: str
    commit_index: int
    applied_index: int
    term: int
    leader_id: str
    rejections: _containers.ScalarMap[str, int]
    stale_applied: _containers.ScalarMap[str, int]
    def __init__(self, id: _Optional[str] = ..., grpc: _Optional[str] = ..., role: _Optional[str] = ..., commit_index: _Optional[int] = ..., applied_index: _Optional[int] = ..., term: _Optional[int] = ..., leader_id: _Optional[str] = ..., rejections: _Optional[_Mapping[str, int]] = ..., stale_applied: _Optional[_Mapping[str, int]] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("id", "state", "last_seen_s", "running", "registered_by_epoch", "registered_in_epoch", "reaped_by_epoch", "reaped_in_epoch")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_S_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_BY_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_IN_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REAPED_BY_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REAPED_IN_EPOCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: str
    last_seen_s: float
    running: _containers.RepeatedScalarFieldContainer[str]
    registered_by_epoch: int
    registered_in_epoch: int
    reaped_by_epoch: int
    reaped_in_epoch: int
    def __init__(self, id: _Optional[str] = ..., state: _Optional[str] = ..., last_seen_s: _Optional[float] = ..., running: _Optional[_Iterable[str]] = ..., registered_by_epoch: _Optional[int] = ..., registered_in_epoch: _Optional[int] = ..., reaped_by_epoch: _Optional[int] = ..., reaped_in_epoch: _Optional[int] = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("leader", "term", "managers", "workers", "tasks", "stale")
    class TasksEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LEADER_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    leader: str
    term: int
    managers: _containers.RepeatedCompositeFieldContainer[ManagerInfo]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerInfo]
    tasks: _containers.ScalarMap[str, int]
    stale: bool
    def __init__(self, leader: _Optional[str] = ..., term: _Optional[int] = ..., managers: _Optional[_Iterable[_Union[ManagerInfo, _Mapping]]] = ..., workers: _Optional[_Iterable[_Union[WorkerInfo, _Mapping]]] = ..., tasks: _Optional[_Mapping[str, int]] = ..., stale: _Optional[bool] = ...) -> None: ...

class NodeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AttemptRef(_message.Message):
    __slots__ = ("task_id", "attempt")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class PulseRequest(_message.Message):
    __slots__ = ("worker_id", "incarnation", "free_slots", "running", "draining", "wait_s", "leaving")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    FREE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    WAIT_S_FIELD_NUMBER: _ClassVar[int]
    LEAVING_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    incarnation: str
    free_slots: int
    running: _containers.RepeatedCompositeFieldContainer[AttemptRef]
    draining: bool
    wait_s: float
    leaving: bool
    def __init__(self, worker_id: _Optional[str] = ..., incarnation: _Optional[str] = ..., free_slots: _Optional[int] = ..., running: _Optional[_Iterable[_Union[AttemptRef, _Mapping]]] = ..., draining: _Optional[bool] = ..., wait_s: _Optional[float] = ..., leaving: _Optional[bool] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("task_id", "attempt", "spec", "lease_s")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    LEASE_S_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    spec: TaskSpec
    lease_s: float
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., spec: _Optional[_Union[TaskSpec, _Mapping]] = ..., lease_s: _Optional[float] = ...) -> None: ...

class PulseReply(_message.Message):
    __slots__ = ("assignments", "kill", "pulse_interval_s", "lease_s", "epoch", "rejoined", "leader_for_s", "reaped_by_epoch")
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    KILL_FIELD_NUMBER: _ClassVar[int]
    PULSE_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    LEASE_S_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    REJOINED_FIELD_NUMBER: _ClassVar[int]
    LEADER_FOR_S_FIELD_NUMBER: _ClassVar[int]
    REAPED_BY_EPOCH_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[Assignment]
    kill: _containers.RepeatedCompositeFieldContainer[AttemptRef]
    pulse_interval_s: float
    lease_s: float
    epoch: int
    rejoined: bool
    leader_for_s: float
    reaped_by_epoch: int
    def __init__(self, assignments: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ..., kill: _Optional[_Iterable[_Union[AttemptRef, _Mapping]]] = ..., pulse_interval_s: _Optional[float] = ..., lease_s: _Optional[float] = ..., epoch: _Optional[int] = ..., rejoined: _Optional[bool] = ..., leader_for_s: _Optional[float] = ..., reaped_by_epoch: _Optional[int] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("worker_id", "incarnation", "task_id", "attempt", "outcome", "has_exit_code", "exit_code", "signal", "stdout", "stderr", "stdout_bytes", "stderr_bytes", "stdout_truncated", "stderr_truncated", "started_at", "finished_at", "error")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HAS_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    STDERR_BYTES_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    incarnation: str
    task_id: str
    attempt: int
    outcome: str
    has_exit_code: bool
    exit_code: int
    signal: str
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    stdout_truncated: bool
    stderr_truncated: bool
    started_at: float
    finished_at: float
    error: str
    def __init__(self, worker_id: _Optional[str] = ..., incarnation: _Optional[str] = ..., task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., outcome: _Optional[str] = ..., has_exit_code: _Optional[bool] = ..., exit_code: _Optional[int] = ..., signal: _Optional[str] = ..., stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., stdout_bytes: _Optional[int] = ..., stderr_bytes: _Optional[int] = ..., stdout_truncated: _Optional[bool] = ..., stderr_truncated: _Optional[bool] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., error: _Optional[str] = ...) -> None: ...

class ReportReply(_message.Message):
    __slots__ = ("accepted", "task_state")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    TASK_STATE_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    task_state: str
    def __init__(self, accepted: _Optional[bool] = ..., task_state: _Optional[str] = ...) -> None: ...

class ManagerAddress(_message.Message):
    __slots__ = ("id", "grpc", "raft", "dashboard")
    ID_FIELD_NUMBER: _ClassVar[int]
    GRPC_FIELD_NUMBER: _ClassVar[int]
    RAFT_FIELD_NUMBER: _ClassVar[int]
    DASHBOARD_FIELD_NUMBER: _ClassVar[int]
    id: str
    grpc: str
    raft: str
    dashboard: str
    def __init__(self, id: _Optional[str] = ..., grpc: _Optional[str] = ..., raft: _Optional[str] = ..., dashboard: _Optional[str] = ...) -> None: ...

class RemoveManagerRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class MembershipReply(_message.Message):
    __slots__ = ("managers",)
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    managers: _containers.RepeatedCompositeFieldContainer[ManagerAddress]
    def __init__(self, managers: _Optional[_Iterable[_Union[ManagerAddress, _Mapping]]] = ...) -> None: ...
