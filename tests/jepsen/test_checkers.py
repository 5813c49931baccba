"""Checkers on hand-made runs: each sees the fault it is for, and only that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepsen_like.checkers.availability import percentile
from jepsen_like.checkers.base import RunData
from jepsen_like.checkers.epochs import check_stale_epoch
from jepsen_like.checkers.executions import check_duplicates
from jepsen_like.checkers.queue import check_idempotency, check_lost
from jepsen_like.checkers.reads import check_monotonic_reads
from jepsen_like.history import Op
from jepsen_like.observe import FinalState
from jepsen_like.witness import Execution, WitnessLog
from jepsen_like.workload import TaskPlan

PLAN = TaskPlan("n1", "key-n1", "quick", sleep_s=0.1)


def submit(t: float, task_id: str, key: str = "key-n1", kind: str = "ok") -> Op:
    plan = {**PLAN.to_json(), "key": key, "nonce": key.removeprefix("key-")}
    result = {"task_id": task_id, "existed": False} if kind == "ok" else {}
    return Op(0, "submit", kind, t, t + 0.01, {"plan": plan, "key": key}, result)


def read(t0: float, t1: float, task_id: str, state: str, attempts: int) -> Op:
    result = {
        "task_id": task_id,
        "found": True,
        "state": state,
        "attempts": attempts,
        "ended": attempts if state != "RUNNING" else attempts - 1,
    }
    return Op(1, "read", "ok", t0, t1, {"task_id": task_id}, result)


def task(
    task_id: str, state: str, attempts: list[str], key: str = "key-n1"
) -> dict[str, Any]:
    return {
        "id": task_id,
        "state": state,
        "idempotency_key": key,
        "max_retries": 0,
        "attempts": [
            {
                "number": i + 1,
                "worker_id": "w1",
                "outcome": outcome,
                "exit_code": 0,
                "started_at": 0.0,
                "finished_at": 0.0,
            }
            for i, outcome in enumerate(attempts)
        ],
    }


def run_data(
    ops: list[Op], tasks: list[dict[str, Any]], executions: tuple[Execution, ...] = ()
) -> RunData:
    return RunData(
        out=Path("."),
        meta={
            "config": {"worker_scope": "tree", "dead_after_s": 3.0},
            "clock": {"mono0": 0.0, "wall0": 0.0, "uptime0": 0.0},
            "end_t": 100.0,
        },
        ops=ops,
        witness=WitnessLog({e.key: e for e in executions}),
        nemesis=[],
        final=FinalState(tasks={t["id"]: t for t in tasks}, drained=True),
    )


def test_acknowledged_task_missing_at_the_end_is_lost() -> None:
    data = run_data(
        [submit(1.0, "t1"), submit(2.0, "t2", key="key-n2")],
        [task("t1", "SUCCEEDED", ["SUCCEEDED"])],
    )
    result = check_lost(data)
    assert result.valid is False
    assert result.counts["lost"] == 1
    assert result.examples[0]["task_id"] == "t2"


def test_indeterminate_submit_may_or_may_not_exist() -> None:
    data = run_data([submit(1.0, "", kind="info")], [])
    assert check_lost(data).valid is True


def test_two_tasks_for_one_key_break_idempotency() -> None:
    data = run_data(
        [submit(1.0, "t1"), submit(2.0, "t2")],
        [
            task("t1", "SUCCEEDED", ["SUCCEEDED"]),
            task("t2", "SUCCEEDED", ["SUCCEEDED"]),
        ],
    )
    result = check_idempotency(data)
    assert result.valid is False
    assert result.examples[0] == {
        "key": "key-n1",
        "task_ids": ["t1", "t2"],
        "why": "one key, many tasks",
    }


def test_overlapping_runs_of_one_task_are_concurrent_duplicates() -> None:
    runs = (
        Execution("t1", 1, "w1", 10, "n1", 1.0, 5.0, 143),
        Execution("t1", 2, "w2", 11, "n1", 3.0, 6.0, 0),
    )
    data = run_data(
        [submit(0.5, "t1")],
        [task("t1", "SUCCEEDED", ["WORKER_LOST", "SUCCEEDED"])],
        runs,
    )
    result = check_duplicates(data)
    assert result.valid is False
    assert result.counts["concurrent"] == 1


def test_a_rerun_after_a_lost_attempt_is_a_sequential_duplicate() -> None:
    runs = (
        Execution("t1", 1, "w1", 10, "n1", 1.0, 2.0, 143),
        Execution("t1", 2, "w2", 11, "n1", 3.0, 4.0, 0),
    )
    data = run_data(
        [submit(0.5, "t1")],
        [task("t1", "SUCCEEDED", ["WORKER_LOST", "SUCCEEDED"])],
        runs,
    )
    result = check_duplicates(data)
    assert result.valid is True
    assert (result.counts["sequential"], result.counts["concurrent"]) == (1, 0)


def test_a_run_after_a_reported_success_is_invalid() -> None:
    runs = (
        Execution("t1", 1, "w1", 10, "n1", 1.0, 2.0, 0),
        Execution("t1", 1, "w2", 11, "n1", 3.0, 4.0, 0),
    )
    data = run_data([submit(0.5, "t1")], [task("t1", "SUCCEEDED", ["SUCCEEDED"])], runs)
    assert check_duplicates(data).counts["after_success"] == 1


def test_a_read_that_goes_back_in_time_is_caught() -> None:
    ops = [
        submit(0.0, "t1"),
        read(1.0, 1.1, "t1", "SUCCEEDED", 1),
        read(2.0, 2.1, "t1", "RUNNING", 1),
    ]
    result = check_monotonic_reads(
        run_data(ops, [task("t1", "SUCCEEDED", ["SUCCEEDED"])])
    )
    assert result.valid is False
    assert result.counts["went_backwards"] == 1
    assert result.counts["final_state_changed"] == 1


def test_concurrent_reads_may_see_either_state() -> None:
    ops = [
        submit(0.0, "t1"),
        read(1.0, 3.0, "t1", "SUCCEEDED", 1),
        read(2.0, 2.5, "t1", "RUNNING", 1),
    ]
    result = check_monotonic_reads(
        run_data(ops, [task("t1", "SUCCEEDED", ["SUCCEEDED"])])
    )
    assert result.valid is True


def with_epochs(
    attempt: dict[str, Any], opened: tuple[int, int], ended: tuple[int, int]
) -> dict[str, Any]:
    """The attempt with (command epoch, epoch in force) of its opening and end."""
    return {
        **attempt,
        "opened_by_epoch": opened[0],
        "opened_in_epoch": opened[1],
        "ended_by_epoch": ended[0],
        "ended_in_epoch": ended[1],
    }


def epoch_run(
    attempts: list[tuple[tuple[int, int], tuple[int, int]]],
    workers: list[dict[str, Any]],
    stale_applied: dict[str, int],
) -> RunData:
    """One task per attempt spec, the worker registry, three replicas' counts."""
    tasks = []
    for i, (opened, ended) in enumerate(attempts, start=1):
        t = task(f"t{i}", "SUCCEEDED", ["SUCCEEDED"], key=f"key-n{i}")
        t["attempts"] = [with_epochs(t["attempts"][0], opened, ended)]
        tasks.append(t)
    data = run_data([], tasks)
    data.final.workers = workers
    data.final.replicas = [
        {"id": f"m{i}", "stale_applied": dict(stale_applied)} for i in (1, 2, 3)
    ]
    return data


def worker(
    worker_id: str, registered: tuple[int, int], reaped: tuple[int, int]
) -> dict[str, Any]:
    return {
        "id": worker_id,
        "state": "IDLE",
        "registered_by_epoch": registered[0],
        "registered_in_epoch": registered[1],
        "reaped_by_epoch": reaped[0],
        "reaped_in_epoch": reaped[1],
    }


def test_effects_of_the_epoch_in_force_are_valid() -> None:
    data = epoch_run(
        [((2, 2), (2, 2)), ((2, 2), (3, 3))], [worker("w1", (2, 2), (0, 0))], {}
    )

    result = check_stale_epoch(data)

    assert result.valid is True
    assert result.counts == {
        "attempts": 2,
        "unrecorded_attempts": 0,
        "workers": 1,
        "stale_attempts": 0,
        "stale_opened": 0,
        "stale_ended": 0,
        "stale_registered": 0,
        "stale_reaped": 0,
        "stale_effects": 0,
        "stale_applied": {},
    }
    assert result.examples == []


def test_every_effect_of_a_deposed_epoch_is_counted_with_its_ids() -> None:
    data = epoch_run(
        [((2, 3), (2, 3)), ((3, 3), (-1, 3)), ((3, 3), (3, 3))],
        [worker("w1", (3, 3), (2, 3)), worker("w2", (3, 3), (0, 0))],
        {"assign": 1, "complete": 1, "reap": 1, "drain": 2},
    )

    result = check_stale_epoch(data)

    assert result.valid is False
    assert result.counts == {
        "attempts": 3,
        "unrecorded_attempts": 0,
        "workers": 2,
        "stale_attempts": 2,
        "stale_opened": 1,
        "stale_ended": 2,
        "stale_registered": 0,
        "stale_reaped": 1,
        "stale_effects": 4,
        "stale_applied": {"assign": 1, "complete": 1, "drain": 2, "reap": 1},
    }
    assert result.examples == [
        {
            "task_id": "t1",
            "attempt": 1,
            "worker_id": "w1",
            "effect": "opened",
            "outcome": "SUCCEEDED",
            "op_epoch": 2,
            "epoch_in_force": 3,
        },
        {
            "task_id": "t1",
            "attempt": 1,
            "worker_id": "w1",
            "effect": "ended",
            "outcome": "SUCCEEDED",
            "op_epoch": 2,
            "epoch_in_force": 3,
        },
        {
            "task_id": "t2",
            "attempt": 1,
            "worker_id": "w1",
            "effect": "ended",
            "outcome": "SUCCEEDED",
            "op_epoch": -1,
            "epoch_in_force": 3,
        },
        {"worker_id": "w1", "effect": "reaped", "op_epoch": 2, "epoch_in_force": 3},
        {
            "replica": "m1",
            "stale_applied": {"assign": 1, "complete": 1, "reap": 1, "drain": 2},
        },
    ]


def test_a_stale_op_that_left_no_record_still_makes_the_run_invalid() -> None:
    data = epoch_run([((2, 2), (2, 2))], [], {"drain": 1})

    result = check_stale_epoch(data)

    assert result.valid is False
    assert (result.counts["stale_effects"], result.counts["stale_applied"]) == (
        0,
        {"drain": 1},
    )


def test_a_run_that_recorded_no_epochs_is_unknown() -> None:
    data = run_data([submit(0.5, "t1")], [task("t1", "SUCCEEDED", ["SUCCEEDED"])])

    result = check_stale_epoch(data)

    assert result.valid is None
    assert (result.counts["attempts"], result.counts["unrecorded_attempts"]) == (0, 1)
    assert result.notes == [
        "no attempt or replica recorded epochs",
        "the worker registry was not read",
    ]


def test_percentiles_are_nearest_rank() -> None:
    # Two failovers: the median is the first, not the larger one.
    assert percentile([0.635, 0.372], 0.5) == 0.372
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(v) for v in range(1, 23)], 0.5) == 11.0
    assert percentile([float(v) for v in range(1, 101)], 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None
