"""Killing an attempt's processes when the killer itself is frozen midway."""

from __future__ import annotations

import subprocess
import time

import pytest

from titan_ha.worker.executors import process_tree
from titan_ha.worker.executors.process_tree import ProcessTree


def test_a_worker_frozen_through_the_grace_still_sends_sigkill_on_waking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(process_tree, "SIGKILL_WAIT_S", 0.5)
    # One process, in its own group, that ignores SIGTERM.
    proc = subprocess.Popen(
        ["sh", "-c", "trap '' TERM; exec sleep 30"], start_new_session=True
    )
    try:
        time.sleep(0.2)  # let the trap be set before the exec
        tree = ProcessTree(proc.pid, tag={})
        pumped: list[float] = []

        def pump(wait_s: float) -> None:
            # The first tick after SIGTERM outlasts the grace and the whole
            # SIGKILL wait, as when the worker is SIGSTOPped right then.
            pumped.append(wait_s)
            time.sleep(1.0 if len(pumped) == 1 else wait_s)

        started = time.monotonic()
        signalled = tree.kill(grace_s=0.1, pump=pump)

        assert proc.wait(timeout=2) == -9
        assert signalled == 1
        assert tree.members() == []
        assert time.monotonic() - started < 2.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
