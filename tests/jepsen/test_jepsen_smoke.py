"""The harness end to end: a fixed-seed run under every nemesis must be valid,
and a deliberately broken build must be caught by the matching checker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jepsen_like.checkers.base import load_run
from jepsen_like.checkers.liveness import worker_rejoins
from titan_ha.manager.state import FENCED_OPS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]  # where `python -m jepsen_like` runs
ALL_NEMESES = (
    "kill-leader,pause-leader,partition-leader,kill-worker,pause-worker,restart-all"
)


def harness(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jepsen_like", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=ROOT,
    )


def results(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def counts(summary: dict[str, Any], checker: str) -> dict[str, Any]:
    found: dict[str, Any] = summary["checkers"][checker]["counts"]
    return found


def test_fixed_seed_run_under_every_nemesis_is_valid(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = harness(
        "run",
        "--duration=60",
        "--seed=42",
        f"--nemesis={ALL_NEMESES}",
        f"--out={out}",
        timeout_s=300,
    )
    print(run.stdout, run.stderr)
    summary = results(out)
    assert counts(summary, "nemesis")["started"] >= 5
    assert counts(summary, "lost")["acknowledged"] >= 50
    assert counts(summary, "lost")["lost"] == 0
    assert counts(summary, "lost")["unfinished"] == 0
    assert counts(summary, "phantom")["phantom_tasks"] == 0
    assert counts(summary, "duplicates")["concurrent"] == 0
    assert counts(summary, "duplicates")["after_success"] == 0
    assert counts(summary, "leaks")["leaked_processes"] == 0
    assert counts(summary, "leaks")["late_children"] == 0
    assert summary["checkers"]["stale-epoch"]["valid"] is True
    assert counts(summary, "stale-epoch")["attempts"] >= 50
    assert counts(summary, "stale-epoch")["stale_effects"] == 0
    assert counts(summary, "stale-epoch")["stale_applied"] == {}
    assert (out / "report.html").exists()
    assert (out / "timeline.png").stat().st_size > 10_000
    assert run.stdout.startswith("jepsen_like: VALID"), summary["verdict"]
    assert run.returncode == 0


def test_broken_idempotency_is_reported_with_examples(tmp_path: Path) -> None:
    out = tmp_path / "broken"
    run = harness(
        "run",
        "--duration=12",
        "--seed=7",
        "--reuse-ratio=0.3",
        "--test-faults=no-idempotency",
        f"--out={out}",
        timeout_s=120,
    )
    summary = results(out)
    idempotency = summary["checkers"]["idempotency"]
    assert run.returncode == 1, run.stdout + run.stderr
    assert "idempotency" in summary["verdict"]["invalid"]
    assert idempotency["valid"] is False
    assert idempotency["counts"]["keys_with_many_tasks"] > 0
    example = idempotency["examples"][0]
    assert example["key"].startswith("key-")
    assert len(example["task_ids"]) > 1
    # The broken build loses nothing; only the idempotency checker objects.
    assert summary["checkers"]["lost"]["valid"] is True


# Leader faults early and often; a deposed leader keeps scheduling for a
# second after it lost its epoch (the slow-step-down fault), as pysyncobj
# lets an old leader believe it leads. Only fencing stands in its way.
DEPOSED_LEADER_RUN = (
    "run",
    "--duration=25",
    "--seed=3",
    "--nemesis=pause-leader,partition-leader",
)


def test_broken_fencing_is_reported_by_the_stale_epoch_checker(
    tmp_path: Path,
) -> None:
    out = tmp_path / "no-fencing"
    run = harness(
        *DEPOSED_LEADER_RUN,
        "--test-faults=no-fencing,slow-step-down",
        f"--out={out}",
        timeout_s=180,
    )
    summary = results(out)
    stale = summary["checkers"]["stale-epoch"]
    assert run.returncode == 1, run.stdout + run.stderr
    assert "stale-epoch" in summary["verdict"]["invalid"]
    assert stale["valid"] is False
    assert stale["counts"]["stale_effects"] > 0
    assert stale["counts"]["stale_attempts"] > 0
    assert set(stale["counts"]["stale_applied"]) <= FENCED_OPS
    assert sum(stale["counts"]["stale_applied"].values()) > 0
    example = stale["examples"][0]
    assert example["effect"] in ("opened", "ended")
    assert example["op_epoch"] < example["epoch_in_force"]
    assert summary["checkers"]["lost"]["valid"] is True


def test_fencing_refuses_what_the_deposed_leader_proposes(tmp_path: Path) -> None:
    out = tmp_path / "slow-step-down"
    run = harness(
        *DEPOSED_LEADER_RUN,
        "--test-faults=slow-step-down",
        f"--out={out}",
        timeout_s=180,
    )
    summary = results(out)
    stale = summary["checkers"]["stale-epoch"]
    refused = [
        replica["rejections"].get("stale epoch", 0)
        for replica in json.loads((out / "final.json").read_text())["replicas"]
    ]
    assert stale["valid"] is True, stale
    assert stale["counts"]["stale_effects"] == 0
    assert stale["counts"]["stale_applied"] == {}
    assert min(refused) > 0
    assert summary["checkers"]["lost"]["valid"] is True
    assert summary["checkers"]["duplicates"]["counts"]["concurrent"] == 0
    assert run.stdout.startswith("jepsen_like: VALID"), summary["verdict"]
    assert run.returncode == 0


def test_a_hasty_reaper_is_reported_by_the_worker_lost_checker(
    tmp_path: Path,
) -> None:
    # No fault at all: every worker is healthy, and the broken reaper (a
    # tenth of dead_after_s, shorter than a pulse) reaps them, mid-task too.
    out = tmp_path / "hasty-reaper"
    run = harness(
        "run",
        "--duration=15",
        "--seed=5",
        "--test-faults=hasty-reaper",
        f"--out={out}",
        timeout_s=180,
    )
    summary = results(out)
    lost = summary["checkers"]["worker-lost"]
    assert run.returncode == 1, run.stdout + run.stderr
    assert "worker-lost" in summary["verdict"]["invalid"]
    assert lost["valid"] is False
    assert lost["counts"]["unexplained"] == lost["counts"]["worker_lost"]
    assert lost["counts"]["unexplained"] > 0
    assert lost["counts"]["by_worker_fault"] == 0
    assert lost["counts"]["by_manager_fault"] == 0
    # The workers say so too: long into its reign, the epoch that reaped
    # them had answered them less than dead_after_s before.
    assert lost["counts"]["rejoins_too_soon"] > 0
    talking = [
        r
        for r in worker_rejoins(load_run(out))
        if r["reaped_by_epoch"] == r["epoch"]
        and r["leader_for_s"] > 3.0
        and r["last_answer_epochs"] == [r["epoch"]] * 2
        and r["since_answer_before_last_s"] < 3.0
    ]
    assert talking, lost
    # Reaped before its lease ran out, a worker still runs what the leader
    # has already given to another: the duplicates checker sees both.
    assert counts(summary, "duplicates")["concurrent"] > 0
    assert summary["checkers"]["lost"]["valid"] is True
    assert " failover-p50=- max=- " in run.stdout


def test_a_leader_reaping_on_stale_clocks_is_reported_by_the_workers(
    tmp_path: Path,
) -> None:
    # Without the liveness reset at takeover a new leader counts silence
    # from before it led, and reaps every worker the moment it takes over.
    # Its losses fall inside leader faults, so timing alone excuses them:
    # only the workers' word convicts it.
    out = tmp_path / "no-takeover-reset"
    run = harness(
        "run",
        "--duration=20",
        "--seed=3",
        "--nemesis=pause-leader",
        "--test-faults=no-takeover-reset",
        f"--out={out}",
        timeout_s=180,
    )
    summary = results(out)
    lost = summary["checkers"]["worker-lost"]
    assert run.returncode == 1, run.stdout + run.stderr
    assert "worker-lost" in summary["verdict"]["invalid"]
    assert lost["counts"]["by_manager_fault"] > 0
    assert lost["counts"]["rejoins_too_soon"] > 0
    example = lost["examples"][0]
    assert example["reaped_by_epoch"] == example["epoch"]
    assert example["leader_for_s"] < 3.0
    assert summary["checkers"]["lost"]["valid"] is True
