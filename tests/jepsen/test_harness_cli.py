"""The harness's command line on bad input, and when it is told to stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from jepsen_like.history import JsonlLog, RunClock

ROOT = Path(__file__).resolve().parents[2]


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jepsen_like", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def test_an_unknown_test_fault_is_refused_in_one_line(tmp_path: Path) -> None:
    run = harness("run", "--test-faults=bogus", f"--out={tmp_path / 'run'}")
    assert run.returncode == 2
    assert run.stderr == (
        "error: unknown test fault 'bogus' (known: hasty-reaper,no-fencing,"
        "no-idempotency,no-takeover-reset,slow-step-down)\n"
    )
    assert not (tmp_path / "run").exists()


def test_usage_errors_are_one_line_with_a_hint(tmp_path: Path) -> None:
    zero = harness("run", "--duration=0", f"--out={tmp_path / 'run'}")
    missing = harness("check", str(tmp_path / "nowhere"))

    assert (zero.returncode, zero.stdout) == (2, "")
    assert zero.stderr == (
        "error: Invalid value for '--duration': 0.0 is not in the range x>=1. "
        "(see 'python -m jepsen_like run --help')\n"
    )
    assert missing.returncode == 2
    assert missing.stderr == (
        f"error: Invalid value for 'OUT': Directory '{tmp_path / 'nowhere'}' "
        "does not exist. (see 'python -m jepsen_like check --help')\n"
    )


def test_an_out_directory_in_use_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "history.jsonl").write_text("")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "important.txt").write_text("keep me\n")

    reused = harness("run", f"--out={earlier}")
    other = harness("run", f"--out={notes}")

    assert (reused.returncode, reused.stdout) == (2, "")
    assert (
        reused.stderr == f"error: {earlier} already holds a run; choose another --out\n"
    )
    assert (other.returncode, other.stdout) == (2, "")
    assert other.stderr == f"error: {notes} is not empty; choose a new or empty --out\n"
    assert sorted(p.name for p in notes.iterdir()) == ["important.txt"]


def test_check_says_in_one_line_what_an_incomplete_run_lacks(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    torn = tmp_path / "torn"
    torn.mkdir()
    for name in ("run.json", "final.json", "history.jsonl", "nemesis.jsonl"):
        (torn / name).write_text("{}")
    (torn / "run.json").write_text("{")

    missing = harness("check", str(empty))
    unreadable = harness("check", str(torn))

    assert missing.returncode == 2
    assert missing.stderr == (
        f"error: {empty} holds no complete run: run.json missing "
        "(an interrupted run?)\n"
    )
    assert unreadable.returncode == 2
    assert unreadable.stderr.startswith(
        f"error: {torn} holds no complete run: run.json unreadable ("
    )
    assert unreadable.stderr.count("\n") == 1
    assert sorted(p.name for p in empty.iterdir()) == []


def test_a_closed_log_drops_late_records_instead_of_raising(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "nemesis.jsonl", RunClock.start())
    log.append(kind="kill-leader", phase="start")
    log.close()

    late = log.append(kind="kill-leader", phase="heal")

    assert late["phase"] == "heal"
    assert [r["phase"] for r in log.records] == ["start"]
    assert (tmp_path / "nemesis.jsonl").read_text().count("\n") == 1


def run_processes(state: Path) -> list[psutil.Process]:
    """Managers and workers started for the run whose state is ``state``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "titan_ha." in cmdline and str(state) in cmdline:
            found.append(proc)
    return found


@pytest.mark.integration
def test_sigterm_stops_the_run_and_everything_it_started(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jepsen_like",
            "run",
            "--duration=60",
            "--seed=4",
            "--nemesis=pause-leader,kill-worker",
            f"--out={out}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        history = out / "history.jsonl"
        while not (history.exists() and history.stat().st_size > 0):
            assert time.monotonic() < deadline, "the run never started"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert run_processes(out / "state")
        time.sleep(8)  # into the fault schedule
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert "Exception in thread" not in stderr
    assert stderr.endswith(
        f"jepsen_like: interrupted; cluster stopped, no verdict; "
        f"partial artefacts in {out}\n"
    )
    assert run_processes(out / "state") == []
