"""The witness log: what really ran, written by the task commands themselves.

Every task command is wrapped in a few lines of POSIX shell that append a
JSON record to a file outside Titan when the attempt starts, when it ends
(with its exit status), when it is told to stop (SIGTERM, recorded as exit
143) or its output pipe breaks (SIGPIPE, exit 141), and when a background
child of a timed-out attempt outlives its kill (``late``). Records carry
the attempt's environment (TITAN_TASK_ID, TITAN_ATTEMPT, TITAN_WORKER_ID),
the shell's pid and the kernel's uptime clock, read without forking so that
a dying attempt can still write its end.
Lines are short single ``printf`` writes to a file opened for appending, so
concurrent writers do not interleave.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jepsen_like.history import RunClock

SIGTERM_EXIT = 143
# An attempt whose worker died writes into a pipe nobody reads: it gets
# SIGPIPE at its next output, and records that end too.
SIGPIPE_EXIT = 141

_RECORD = (
    '{"ev":"%s","nonce":"%s","task":"%s","attempt":"%s",'
    '"worker":"%s","pid":%s,"t":%s,"exit":%s}\\n'
)


def wrap(witness_path: Path, nonce: str, payload: str) -> str:
    """The command Titan runs: ``payload`` between witness records.

    ``payload`` must not call ``exit``: its last status becomes the
    attempt's exit status, and the end record is written after it.
    """
    define = (
        f"W='{witness_path}'; "
        "w() { read -r u _ < /proc/uptime; "
        f'printf \'{_RECORD}\' "$1" \'{nonce}\' "$TITAN_TASK_ID" "$TITAN_ATTEMPT" '
        '"$TITAN_WORKER_ID" "$$" "$u" "$2" >> "$W"; }'
    )
    return (
        f"{define}\n"
        "w start null\n"
        f"trap 'w end {SIGTERM_EXIT}; exit {SIGTERM_EXIT}' TERM\n"
        f"trap 'w end {SIGPIPE_EXIT}; exit {SIGPIPE_EXIT}' PIPE\n"
        f"{payload}\n"
        'rc=$?; w end "$rc"; exit "$rc"'
    )


@dataclass
class Execution:
    """One process that ran one attempt of a task, as the witness saw it.

    Times are on the run clock. ``end_t`` is None when no end record came
    (the process was killed outright, or still runs).
    """

    task_id: str
    attempt: int
    worker: str
    pid: int
    nonce: str
    start_t: float
    end_t: float | None = None
    exit: int | None = None
    late_t: list[float] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.task_id, self.attempt, self.pid)

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "attempt": self.attempt,
            "worker": self.worker,
            "pid": self.pid,
            "start_t": round(self.start_t, 3),
            "end_t": None if self.end_t is None else round(self.end_t, 3),
            "exit": self.exit,
        }


@dataclass
class WitnessLog:
    """Executions by (task id, attempt, pid), plus lines that did not parse."""

    executions: dict[tuple[str, int, int], Execution]
    malformed: int = 0

    def by_task(self) -> dict[str, list[Execution]]:
        tasks: dict[str, list[Execution]] = {}
        for execution in self.executions.values():
            tasks.setdefault(execution.task_id, []).append(execution)
        for runs in tasks.values():
            runs.sort(key=lambda e: (e.start_t, e.attempt))
        return tasks

    def late(self) -> list[Execution]:
        return [e for e in self.executions.values() if e.late_t]


def parse(lines: Iterable[str], clock: RunClock) -> WitnessLog:
    """Builds the executions from raw witness lines."""
    log = WitnessLog({})
    for line in lines:
        try:
            record = json.loads(line)
            key = (str(record["task"]), int(record["attempt"]), int(record["pid"]))
            when = clock.from_uptime(float(record["t"]))
        except (ValueError, KeyError, TypeError):
            log.malformed += 1
            continue
        execution = log.executions.get(key)
        if execution is None:
            execution = Execution(
                key[0],
                key[1],
                str(record["worker"]),
                key[2],
                str(record["nonce"]),
                when,
            )
            log.executions[key] = execution
        if record["ev"] == "start":
            execution.start_t = min(execution.start_t, when)
        elif record["ev"] == "end" and execution.end_t is None:
            execution.end_t = when
            execution.exit = None if record["exit"] is None else int(record["exit"])
        elif record["ev"] == "late":
            execution.late_t.append(when)
    return log


def load(path: Path, clock: RunClock) -> WitnessLog:
    if not path.exists():
        return WitnessLog({})
    with path.open(encoding="utf-8", errors="replace") as lines:
        return parse(lines, clock)
