"""Read barriers: one barrier serves every read that arrived before it began."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from titan_ha.errors import NoLeader
from titan_ha.manager.reads import ReadBarrier


class GatedBarrier:
    """A fake proposer whose barriers commit only when the test says so."""

    def __init__(self) -> None:
        self.started = 0
        self.entered = threading.Semaphore(0)
        self.release = threading.Semaphore(0)
        self.fail = False

    def __call__(self, timeout_s: float) -> None:
        self.started += 1
        self.entered.release()
        assert self.release.acquire(timeout=5)
        if self.fail:
            raise NoLeader("lost leadership")


def test_reads_arriving_during_a_barrier_share_the_next_one() -> None:
    gate = GatedBarrier()
    barrier = ReadBarrier(gate)
    with ThreadPoolExecutor(12) as pool:
        first = pool.submit(barrier.wait, 5.0)
        assert gate.entered.acquire(timeout=5)  # barrier 1 is in flight
        waiting = [pool.submit(barrier.wait, 5.0) for _ in range(10)]
        gate.release.release()  # barrier 1 commits: serves only the first read
        first.result(timeout=5)
        assert gate.entered.acquire(timeout=5)  # barrier 2 serves the other ten
        gate.release.release()
        for read in waiting:
            read.result(timeout=5)
    assert gate.started == 2


def test_a_failed_barrier_fails_its_reads() -> None:
    gate = GatedBarrier()
    gate.fail = True
    barrier = ReadBarrier(gate)
    gate.release.release()
    with pytest.raises(NoLeader, match="read barrier failed"):
        barrier.wait(5.0)
    gate.fail = False
    gate.release.release()
    barrier.wait(5.0)
    assert gate.started == 2
