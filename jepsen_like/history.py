"""The run's clock and its histories: one JSON line per event.

Every client operation is an ``invoke`` followed by one completion: ``ok``
(it happened), ``fail`` (it certainly did not) or ``info`` (unknown: a
timeout or a connection error). Times are seconds on the run's monotonic
clock, from the moment the run started.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

INVOKE, OK, FAIL, INFO = "invoke", "ok", "fail", "info"
COMPLETIONS = (OK, FAIL, INFO)


def read_uptime_s() -> float:
    """The kernel's uptime clock, which the witness shell snippets read too."""
    with open("/proc/uptime") as uptime:
        return float(uptime.read().split()[0])


@dataclass(frozen=True)
class RunClock:
    """The run's time origin on three clocks, to put every record on one axis."""

    mono0: float
    wall0: float
    uptime0: float

    @classmethod
    def start(cls) -> RunClock:
        return cls(time.monotonic(), time.time(), read_uptime_s())

    def now(self) -> float:
        return time.monotonic() - self.mono0

    def from_wall(self, wall: float) -> float:
        return wall - self.wall0

    def from_uptime(self, uptime: float) -> float:
        return uptime - self.uptime0

    def to_json(self) -> dict[str, float]:
        return {"mono0": self.mono0, "wall0": self.wall0, "uptime0": self.uptime0}

    @classmethod
    def from_json(cls, data: dict[str, float]) -> RunClock:
        return cls(data["mono0"], data["wall0"], data["uptime0"])


class JsonlLog:
    """A thread-safe append-only JSON-lines file that also keeps its records."""

    def __init__(self, path: Path, clock: RunClock) -> None:
        self.path = path
        self.clock = clock
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._file: TextIO = path.open("a", encoding="utf-8")

    def append(self, **fields: Any) -> dict[str, Any]:
        """Stamps ``fields`` with ``index`` and ``time`` and writes them.

        Once the log is closed (the run is over, or was interrupted) a late
        record from a thread still winding down is returned but not kept.
        """
        with self._lock:
            record = {"index": len(self.records), "time": round(self.clock.now(), 6)}
            record.update(fields)
            if self._file.closed:
                return record
            self.records.append(record)
            self._file.write(json.dumps(record, sort_keys=True) + "\n")
            self._file.flush()
            return record

    def close(self) -> None:
        with self._lock:
            self._file.close()


class History(JsonlLog):
    """Client operations: ``invoke`` then ``ok``, ``fail`` or ``info``."""

    def invoke(self, process: int, f: str, value: dict[str, Any]) -> None:
        self.append(process=process, type=INVOKE, f=f, value=value)

    def complete(self, process: int, f: str, kind: str, value: dict[str, Any]) -> None:
        assert kind in COMPLETIONS
        self.append(process=process, type=kind, f=f, value=value)


@dataclass(frozen=True)
class Op:
    """One client operation: its invocation paired with its completion."""

    process: int
    f: str
    type: str
    invoke_t: float
    complete_t: float
    args: dict[str, Any]
    result: dict[str, Any]

    @property
    def latency_s(self) -> float:
        return self.complete_t - self.invoke_t


def pair_ops(events: Iterable[dict[str, Any]]) -> list[Op]:
    """Pairs each invocation with its process's next completion.

    An invocation without a completion (the run ended first) becomes an
    ``info`` operation that completes at infinity.
    """
    open_ops: dict[int, dict[str, Any]] = {}
    ops: list[Op] = []
    for event in events:
        process = int(event["process"])
        if event["type"] == INVOKE:
            open_ops[process] = event
            continue
        invoked = open_ops.pop(process, None)
        if invoked is None:
            continue
        ops.append(
            Op(
                process,
                str(invoked["f"]),
                str(event["type"]),
                float(invoked["time"]),
                float(event["time"]),
                dict(invoked["value"]),
                dict(event["value"]),
            )
        )
    for invoked in open_ops.values():
        ops.append(
            Op(
                int(invoked["process"]),
                str(invoked["f"]),
                INFO,
                float(invoked["time"]),
                float("inf"),
                dict(invoked["value"]),
                {"error": "no completion"},
            )
        )
    ops.sort(key=lambda op: op.invoke_t)
    return ops


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file; a torn or malformed line is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record
