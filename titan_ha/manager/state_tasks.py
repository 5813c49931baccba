"""State-machine handlers for tasks: submit, assign, output, complete, cancel.

Each handler runs inside ``ClusterState.apply`` on every replica: it must be
deterministic and must not raise for any input it can be given.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from titan_ha.manager.commands import Command, Result, epoch_of, number, reject, text
from titan_ha.manager.records import (
    AttemptRecord,
    OutputRecord,
    TaskRecord,
    TaskSpecRecord,
)
from titan_ha.models import MAX_WORKER_LOST, Outcome, TaskState

if TYPE_CHECKING:
    from titan_ha.manager.state import ClusterState

# Outcomes that spend the task's max_retries budget.
COMMAND_FAILURES = (
    Outcome.FAILED,
    Outcome.TIMED_OUT,
    Outcome.OOM_KILLED,
    Outcome.ERROR,
)
STREAMS = ("stdout", "stderr")


def parse_spec(raw: Any) -> TaskSpecRecord | str:
    """Builds a spec from a command's dict, or returns why it is invalid."""
    if not isinstance(raw, dict):
        return "spec must be a mapping"
    command = raw.get("command")
    if not isinstance(command, str) or not command.strip():
        return "command must be a non-empty string"
    try:
        timeout_s = float(raw.get("timeout_s", 0.0))
        cpus = float(raw.get("cpus", 0.0))
        max_retries = int(raw.get("max_retries", 0))
        memory_bytes = int(raw.get("memory_bytes", 0))
    except (TypeError, ValueError, OverflowError):
        return "numeric fields must be finite numbers"
    if not math.isfinite(timeout_s) or timeout_s < 0:
        return "timeout_s must be a finite number >= 0"
    if not math.isfinite(cpus):
        return "cpus must be a finite number"
    if max_retries < 0 or cpus < 0 or memory_bytes < 0:
        return "max_retries, cpus and memory_bytes must be >= 0"
    return TaskSpecRecord(
        command=command,
        timeout_s=timeout_s,
        max_retries=max_retries,
        idempotency_key=str(raw.get("idempotency_key", "")),
        docker_image=str(raw.get("docker_image", "")),
        cpus=cpus,
        memory_bytes=memory_bytes,
        network=str(raw.get("network", "")),
    )


def submit(state: ClusterState, cmd: Command) -> Result:
    spec = parse_spec(cmd.get("spec"))
    if isinstance(spec, str):
        return reject("invalid spec", detail=spec)
    key = spec.idempotency_key
    if key and key in state.keys and "no-idempotency" not in state.test_faults:
        return {"ok": True, "task_id": state.keys[key], "existed": True}
    task_id, now = text(cmd, "task_id"), number(cmd, "now")
    if not task_id or task_id in state.tasks:
        return reject("task id missing or taken", task_id=task_id)
    state.tasks[task_id] = TaskRecord(
        id=task_id, seq=state.next_seq, spec=spec, submitted_at=now
    )
    state.next_seq += 1
    state.pending[task_id] = None
    if key:
        state.keys[key] = task_id
    return {"ok": True, "task_id": task_id, "existed": False}


def assign(state: ClusterState, cmd: Command) -> Result:
    now = number(cmd, "now")
    task = state.tasks.get(text(cmd, "task_id"))
    worker = state.workers.get(text(cmd, "worker_id"))
    if task is None or task.state != TaskState.PENDING:
        return reject("task not pending")
    if worker is None or worker.dead or worker.draining:
        return reject("worker cannot take work")
    if worker.incarnation != cmd.get("incarnation"):
        return reject("stale incarnation")
    attempt = len(task.attempts) + 1
    if cmd.get("attempt") != attempt:
        return reject("wrong attempt number", expected=attempt)
    task.attempts.append(
        AttemptRecord(
            number=attempt,
            worker_id=worker.id,
            incarnation=worker.incarnation,
            started_at=now,
            opened_by_epoch=epoch_of(cmd),
            opened_in_epoch=state.epoch,
        )
    )
    task.state = TaskState.RUNNING
    del state.pending[task.id]
    worker.running[task.id] = attempt
    return {"ok": True, "attempt": attempt}


def _open_attempt(
    state: ClusterState, cmd: Command
) -> tuple[TaskRecord, AttemptRecord] | Result:
    """The task and attempt a worker's command names, if it is still that worker's."""
    task = state.tasks.get(text(cmd, "task_id"))
    if task is None:
        return reject("unknown task")
    index = cmd.get("attempt")
    if not isinstance(index, int) or not 1 <= index <= len(task.attempts):
        return reject("unknown attempt")
    attempt = task.attempts[index - 1]
    if attempt.worker_id != cmd.get("worker_id") or attempt.incarnation != cmd.get(
        "incarnation"
    ):
        return reject("attempt belongs to another worker")
    return task, attempt


def stage_output(state: ClusterState, cmd: Command) -> Result:
    found = _open_attempt(state, cmd)
    if isinstance(found, dict):
        return found
    task, attempt = found
    stream = cmd.get("stream")
    data = cmd.get("data")
    if stream not in STREAMS or not isinstance(data, str):
        return reject("malformed output chunk")
    if not attempt.is_open:
        return reject("attempt already finished")
    chunks = state.staged.get((task.id, attempt.number, stream), [])
    index = cmd.get("index")
    if not isinstance(index, int) or not 0 <= index <= len(chunks):
        return reject("output chunk out of order", expected=len(chunks))
    state.staged[(task.id, attempt.number, stream)] = chunks
    if index < len(chunks):
        # A resend after a failover: accepted once it matches what is staged.
        if chunks[index] == data:
            return {"ok": True, "duplicate": True}
        return reject("output chunk differs from the staged one")
    chunks.append(data)
    return {"ok": True}


def _take_output(
    state: ClusterState, task_id: str, number: int, cmd: Command
) -> dict[str, str] | None:
    """Each stream's text: inline in ``cmd``, or its staged chunks when marked."""
    texts = {}
    for stream in STREAMS:
        chunks = cmd.get(f"{stream}_chunks", 0)
        if chunks:
            staged = state.staged.get((task_id, number, stream), [])
            if len(staged) != chunks:
                return None
            texts[stream] = "".join(staged)
        else:
            texts[stream] = str(cmd.get(stream, ""))
    return texts


def _drop_staged(state: ClusterState, task_id: str, number: int) -> None:
    for stream in STREAMS:
        state.staged.pop((task_id, number, stream), None)


def complete(state: ClusterState, cmd: Command) -> Result:
    found = _open_attempt(state, cmd)
    if isinstance(found, dict):
        return found
    task, attempt = found
    try:
        outcome = Outcome(str(cmd.get("outcome")))
    except ValueError:
        return reject("unknown outcome")
    now = number(cmd, "now")
    finished_at = number(cmd, "finished_at", now) or now
    totals = {s: int(number(cmd, f"{s}_bytes", 0)) for s in STREAMS}
    exit_code = cmd.get("exit_code")
    if not attempt.is_open:
        if attempt.outcome == outcome:
            return {"ok": True, "duplicate": True, "task_state": task.state.value}
        return reject("attempt already ended", outcome=attempt.outcome)
    texts = _take_output(state, task.id, attempt.number, cmd)
    if texts is None:
        return reject("staged output incomplete")
    _drop_staged(state, task.id, attempt.number)
    attempt.outcome = outcome
    valid_code = isinstance(exit_code, int) and not isinstance(exit_code, bool)
    attempt.exit_code = exit_code if valid_code else None
    attempt.signal = text(cmd, "signal")
    attempt.finished_at = finished_at
    attempt.error = text(cmd, "error")
    attempt.ended_by_epoch = epoch_of(cmd)
    attempt.ended_in_epoch = state.epoch
    for stream in STREAMS:
        setattr(
            task,
            stream,
            OutputRecord(
                text=texts[stream],
                total_bytes=totals[stream] or len(texts[stream].encode()),
                truncated=bool(cmd.get(f"{stream}_truncated", False)),
            ),
        )
    worker = state.workers.get(attempt.worker_id)
    if worker is not None and worker.running.get(task.id) == attempt.number:
        del worker.running[task.id]
    settle_task(state, task, now)
    return {"ok": True, "task_state": task.state.value}


def settle_task(state: ClusterState, task: TaskRecord, now: float) -> None:
    """Decides what follows the task's last attempt: done, retried or failed."""
    if task.state == TaskState.CANCELLED:
        return
    last = task.last_attempt
    assert last is not None
    if last.outcome == Outcome.SUCCEEDED:
        final: TaskState | None = TaskState.SUCCEEDED
    elif last.outcome == Outcome.WORKER_LOST:
        lost = task.count_outcomes(Outcome.WORKER_LOST)
        final = TaskState.FAILED if lost >= MAX_WORKER_LOST else None
    elif last.outcome == Outcome.CANCELLED:
        final = TaskState.CANCELLED
    else:
        failures = task.count_outcomes(*COMMAND_FAILURES)
        final = TaskState.FAILED if failures > task.spec.max_retries else None
    if final is None:
        task.state = TaskState.PENDING
        state.pending[task.id] = None
    else:
        task.state = final
        task.finished_at = now


def cancel(state: ClusterState, cmd: Command) -> Result:
    now = number(cmd, "now")
    task = state.tasks.get(text(cmd, "task_id"))
    if task is None:
        return reject("unknown task")
    if task.state.is_final:
        return {"ok": True, "task_state": task.state.value}
    state.pending.pop(task.id, None)
    task.state = TaskState.CANCELLED
    task.finished_at = now
    return {"ok": True, "task_state": task.state.value}


def gc(state: ClusterState, cmd: Command) -> Result:
    """Forgets the named finished tasks and their idempotency keys."""
    task_ids = cmd.get("task_ids")
    if not isinstance(task_ids, list):
        return reject("malformed command", detail="gc needs task_ids")
    pruned = 0
    for task_id in task_ids:
        task = state.tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None or not task.state.is_final:
            continue
        del state.tasks[task_id]
        key = task.spec.idempotency_key
        if key and state.keys.get(key) == task_id:
            del state.keys[key]
        pruned += 1
    return {"ok": True, "pruned": pruned}
