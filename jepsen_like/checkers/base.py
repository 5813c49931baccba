"""What every checker reads and returns.

``RunData`` is everything a run left behind, loaded back from its output
directory, so checkers can be re-run on an old run (``jepsen_like check``).
A checker is a pure function from ``RunData`` to a ``CheckResult``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jepsen_like import witness
from jepsen_like.history import OK, Op, RunClock, pair_ops, read_jsonl
from jepsen_like.observe import FinalState
from jepsen_like.workload import TaskPlan

MAX_EXAMPLES = 5
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
COMMAND_FAILURES = frozenset({"FAILED", "TIMED_OUT", "OOM_KILLED", "ERROR"})


@dataclass
class CheckResult:
    """A checker's verdict: ``valid`` None means it could not tell."""

    name: str
    valid: bool | None
    counts: dict[str, Any] = field(default_factory=dict)
    examples: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def example(self, item: Any) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(item)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "counts": self.counts,
            "examples": self.examples,
            "notes": self.notes,
        }


@dataclass
class RunData:
    """One run's histories, witness, faults and final state."""

    out: Path
    meta: dict[str, Any]
    ops: list[Op]
    witness: witness.WitnessLog
    nemesis: list[dict[str, Any]]
    final: FinalState

    @property
    def clock(self) -> RunClock:
        return RunClock.from_json(self.meta["clock"])

    @property
    def worker_tree(self) -> bool:
        return bool(self.meta["config"]["worker_scope"] == "tree")

    @property
    def end_t(self) -> float:
        return float(self.meta.get("end_t", 0.0))

    def submits(self, kind: str | None = None) -> list[Op]:
        return [
            op
            for op in self.ops
            if op.f == "submit" and (kind is None or op.type == kind)
        ]

    @cached_property
    def plans(self) -> dict[str, TaskPlan]:
        """Every submitted plan by nonce."""
        return {
            op.args["plan"]["nonce"]: TaskPlan.from_json(op.args["plan"])
            for op in self.submits()
        }

    def plan_of(self, task: dict[str, Any]) -> TaskPlan | None:
        key = task.get("idempotency_key") or ""
        return self.plans.get(key.removeprefix("key-"))

    def acked(self) -> dict[str, Op]:
        """Acknowledged task ids and the first submit that returned each."""
        acked: dict[str, Op] = {}
        for op in self.submits(OK):
            acked.setdefault(op.result["task_id"], op)
        return acked

    def fault_windows(self) -> list[tuple[float, float, str, str]]:
        """(start, end, kind, target) of every fault that started."""
        windows = []
        open_faults: dict[tuple[str, str], float] = {}
        for event in self.nemesis:
            key = (event["kind"], str(event.get("target")))
            if event["phase"] == "start":
                open_faults[key] = float(event["time"])
            elif event["phase"] == "heal" and key in open_faults:
                windows.append((open_faults.pop(key), float(event["time"]), *key))
        for (kind, target), start in open_faults.items():
            windows.append((start, self.end_t, kind, target))
        return sorted(windows)

    def paused(self, worker: str) -> list[tuple[float, float]]:
        """When ``worker`` (with its attempts, in tree scope) was stopped."""
        return [
            (start, end)
            for start, end, kind, target in self.fault_windows()
            if target == worker and kind == "pause-worker"
        ]

    def wall_to_run(self, wall: float) -> float | None:
        return self.clock.from_wall(wall) if wall else None


def overlaps(a: tuple[float, float], windows: Iterable[tuple[float, float]]) -> bool:
    return any(a[0] < end and start < a[1] for start, end in windows)


RUN_FILES = ("run.json", "final.json", "history.jsonl", "nemesis.jsonl")


def incomplete_run(out: Path) -> str | None:
    """Why ``out`` is not a finished run's directory, or None if it is."""
    for name in RUN_FILES:
        if not (out / name).is_file():
            return f"{name} missing (an interrupted run?)"
    for name in ("run.json", "final.json"):
        try:
            data = json.loads((out / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"{name} unreadable ({exc})"
        if not isinstance(data, dict):
            return f"{name} is not a JSON object"
    return None


def load_run(out: Path) -> RunData:
    """Loads a run back from its output directory."""
    meta = json.loads((out / "run.json").read_text())
    clock = RunClock.from_json(meta["clock"])
    final_path = out / "final.json"
    final = (
        FinalState.from_json(json.loads(final_path.read_text()))
        if final_path.exists()
        else FinalState()
    )
    return RunData(
        out=out,
        meta=meta,
        ops=pair_ops(read_jsonl(out / "history.jsonl")),
        witness=witness.load(out / "witness.jsonl", clock),
        nemesis=list(read_jsonl(out / "nemesis.jsonl")),
        final=final,
    )
