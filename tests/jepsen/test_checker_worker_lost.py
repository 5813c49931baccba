"""The reaper-false-positive checker: a lost attempt needs a fault that
could have caused it, on its own worker or on the managers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepsen_like.checkers.base import RunData
from jepsen_like.checkers.liveness import check_worker_lost
from jepsen_like.observe import FinalState
from jepsen_like.witness import WitnessLog


def lost_attempt(
    task_id: str, worker: str, started: float, finished: float
) -> dict[str, Any]:
    return {
        "id": task_id,
        "state": "SUCCEEDED",
        "attempts": [
            {
                "number": 1,
                "worker_id": worker,
                "outcome": "WORKER_LOST",
                "started_at": started,
                "finished_at": finished,
            }
        ],
    }


def fault(kind: str, target: str, start: float, end: float) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "phase": "start", "target": target, "time": start},
        {"kind": kind, "phase": "heal", "target": target, "time": end},
    ]


def run_data(
    tasks: list[dict[str, Any]],
    nemesis: list[dict[str, Any]],
    out: Path = Path("/nonexistent"),
) -> RunData:
    return RunData(
        out=out,
        meta={
            "config": {"worker_scope": "tree", "dead_after_s": 3.0},
            "clock": {"mono0": 0.0, "wall0": 0.0, "uptime0": 0.0},
            "end_t": 100.0,
        },
        ops=[],
        witness=WitnessLog({}),
        nemesis=nemesis,
        final=FinalState(tasks={t["id"]: t for t in tasks}, drained=True),
    )


def test_a_fault_on_another_worker_explains_nothing() -> None:
    data = run_data(
        [lost_attempt("t1", "w1", 20.0, 25.0)],
        fault("kill-worker", "w2", 21.0, 24.0),
    )
    result = check_worker_lost(data)
    assert result.valid is False
    assert result.counts == {
        "worker_lost": 1,
        "by_worker_fault": 0,
        "by_manager_fault": 0,
        "unexplained": 1,
        "rejoins": 0,
        "rejoins_too_soon": 0,
    }
    assert result.examples == [
        {
            "task_id": "t1",
            "attempt": 1,
            "worker_id": "w1",
            "started_t": 20.0,
            "finished_t": 25.0,
        }
    ]


def test_faults_on_the_worker_itself_or_the_managers_explain_it() -> None:
    data = run_data(
        [
            lost_attempt("t1", "w1", 20.0, 25.0),
            lost_attempt("t2", "w2", 50.0, 54.0),
        ],
        fault("pause-worker", "w1", 22.0, 27.0)
        + fault("partition-leader", "m1", 48.0, 52.0),
    )
    result = check_worker_lost(data)
    assert result.valid is True
    assert result.counts == {
        "worker_lost": 2,
        "by_worker_fault": 1,
        "by_manager_fault": 1,
        "unexplained": 0,
        "rejoins": 0,
        "rejoins_too_soon": 0,
    }


def test_a_fault_long_over_before_the_attempt_explains_nothing() -> None:
    # Threshold 3 s + margin 1 s: a fault healed 5 s before the start is too old.
    data = run_data(
        [lost_attempt("t1", "w1", 40.0, 42.0)],
        fault("kill-leader", "m2", 30.0, 35.0),
    )
    result = check_worker_lost(data)
    assert result.counts["unexplained"] == 1
    assert result.valid is False


def test_a_pause_long_over_before_the_loss_does_not_explain_it() -> None:
    # The attempt ran 20-40 s; w1 was paused 22-27 s, then pulsed for 13 s:
    # a loss at 40 s needs silence since 37 s (threshold 3 s), none was.
    data = run_data(
        [
            lost_attempt("t1", "w1", 20.0, 40.0),
            lost_attempt("t2", "w1", 20.0, 29.5),
        ],
        fault("pause-worker", "w1", 22.0, 27.0),
    )
    result = check_worker_lost(data)
    assert result.valid is False
    assert result.counts == {
        "worker_lost": 2,
        "by_worker_fault": 1,
        "by_manager_fault": 0,
        "unexplained": 1,
        "rejoins": 0,
        "rejoins_too_soon": 0,
    }
    assert [e["task_id"] for e in result.examples] == ["t1"]


def test_a_leader_fault_long_over_before_the_loss_does_not_explain_it() -> None:
    # Both attempts ran 20-40 s through a leader kill at 22-25 s; a new
    # leader reaps only after a threshold of silence from its takeover, so
    # a loss at 27.5 s may be the fault's, a loss at 40 s is not.
    data = run_data(
        [
            lost_attempt("t1", "w1", 20.0, 40.0),
            lost_attempt("t2", "w2", 20.0, 27.5),
        ],
        fault("kill-leader", "m1", 22.0, 25.0),
    )
    result = check_worker_lost(data)
    assert result.valid is False
    assert result.counts == {
        "worker_lost": 2,
        "by_worker_fault": 0,
        "by_manager_fault": 1,
        "unexplained": 1,
        "rejoins": 0,
        "rejoins_too_soon": 0,
    }
    assert [e["task_id"] for e in result.examples] == ["t1"]


def rejoin_line(
    worker: str,
    epoch: int,
    answers: str,
    since: str,
    reaper: int | None = None,
    leading: str = "60.000",
) -> str:
    return (
        f"2026-12-04 08:26:29,123 {worker} WARNING titan_ha.worker.agent: "
        f"declared dead by the leader, joined again epoch={epoch} "
        f"reaped_by_epoch={epoch if reaper is None else reaper} "
        f"leader_for_s={leading} "
        f"last_answer_epochs={answers} since_answer_before_last_s={since}\n"
    )


def test_a_worker_rejoined_by_the_epoch_it_was_talking_to_reports_a_hasty_reap(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "state" / "logs"
    logs.mkdir(parents=True)
    (logs / "w1.log").write_text(
        "2026-12-04 08:26:28,000 w1 INFO titan_ha.worker.agent: worker started\n"
        + rejoin_line("w1", 4, "4,4", "0.981")  # too soon: flagged
        + rejoin_line("w1", 4, "4,4", "3.204")  # a threshold of silence: fine
        + rejoin_line("w1", 5, "5,5", "0.700", reaper=4)  # reaped by epoch 4
    )
    (logs / "w2.log").write_text(
        rejoin_line("w2", 5, "4,5", "1.002")  # a new leader's own clock: fine
        + rejoin_line("w2", 1, "-", "nan")  # no earlier answer: fine
        + rejoin_line("w2", 6, "6", "nan")
    )
    result = check_worker_lost(run_data([], [], out=tmp_path))
    assert result.valid is False
    assert result.counts == {
        "worker_lost": 0,
        "by_worker_fault": 0,
        "by_manager_fault": 0,
        "unexplained": 0,
        "rejoins": 6,
        "rejoins_too_soon": 1,
    }
    assert result.examples == [
        {
            "worker_id": "w1",
            "logged_at": "2026-12-04 08:26:29,123",
            "epoch": 4,
            "reaped_by_epoch": 4,
            "leader_for_s": 60.0,
            "last_answer_epochs": [4, 4],
            "since_answer_before_last_s": 0.981,
        }
    ]


def test_a_leader_reaping_before_it_led_for_a_threshold_is_reported(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "state" / "logs"
    logs.mkdir(parents=True)
    (logs / "w1.log").write_text(
        # Epoch 9 reaped w1 1.2 s into its reign: it cannot have waited.
        rejoin_line("w1", 9, "8,8", "1.500", leading="1.200")
        # Reaped by epoch 8, rejoined by a young epoch 9: nothing to judge.
        + rejoin_line("w1", 9, "8,8", "1.500", reaper=8, leading="0.400")
        # Epoch 9 led for the threshold (less the clock slack) before.
        + rejoin_line("w1", 9, "8,8", "1.500", leading="2.960")
    )
    result = check_worker_lost(run_data([], [], out=tmp_path))
    assert result.valid is False
    assert (result.counts["rejoins"], result.counts["rejoins_too_soon"]) == (3, 1)
    assert [(e["epoch"], e["leader_for_s"]) for e in result.examples] == [(9, 1.2)]
