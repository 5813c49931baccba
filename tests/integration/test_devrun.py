"""``make run``'s supervisor: restarts what dies, stops everything on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec
from titan_ha.local_cluster import write_config

pytestmark = pytest.mark.integration


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_supervisor_restarts_a_killed_manager_and_stops_cleanly(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml", 3, secret="s", dead_after_s=3.0, pulse_interval_s=0.5
    )
    state = tmp_path / "state"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "titan_ha.devrun",
            "--config",
            str(tmp_path / "c.toml"),
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    client = Client([m.grpc for m in config.managers])
    try:
        pid_file = state / "pids" / "m2.pid"
        wait_for(pid_file.exists, 15, "no pid file")
        task_id, _ = client.submit(TaskSpec(command="echo before"), deadline_s=15)
        first_pid = int(pid_file.read_text())
        os.kill(first_pid, signal.SIGKILL)
        wait_for(lambda: int(pid_file.read_text()) != first_pid, 15, "no restart")
        restarted = psutil.Process(int(pid_file.read_text()))
        assert restarted.cmdline()[-4:-2] == ["--id", "m2"]
        assert client.wait(task_id, timeout_s=20).stdout == "before\n"
        children = psutil.Process(run.pid).children(recursive=True)
        assert len(children) == 5  # 3 managers, 2 workers
    finally:
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=30)
        client.close()
    assert run.returncode == 0
    assert "m2 exited with code -9" in output
    assert "m2 restarted" in output
    assert output.rstrip().endswith("stopped.")
    assert [p for p in children if p.is_running() and p.status() != "zombie"] == []
