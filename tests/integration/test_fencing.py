"""A paused leader, and a cluster that keeps its replicated state small."""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Harness

from titan_ha.api.views import TaskSpec

pytestmark = pytest.mark.integration


def witnessed(witness: Path, seconds: float) -> str:
    """A command that records when it really ran, under which attempt."""
    tag = "$TITAN_TASK_ID $TITAN_ATTEMPT $TITAN_WORKER_ID"
    return (
        f'echo "start {tag} $(date +%s.%N)" >> {witness}; sleep {seconds}; '
        f'echo "end {tag} $(date +%s.%N)" >> {witness}'
    )


def intervals(witness: Path) -> dict[str, list[tuple[float, float, str]]]:
    """Per task: (start, end, worker) of every run that reached its end."""
    starts: dict[tuple[str, str], tuple[float, str]] = {}
    runs: dict[str, list[tuple[float, float, str]]] = {}
    for line in witness.read_text().splitlines():
        kind, task_id, attempt, worker, at = line.split()
        if kind == "start":
            starts[(task_id, attempt)] = (float(at), worker)
        else:
            began, worker = starts.pop((task_id, attempt))
            runs.setdefault(task_id, []).append((began, float(at), worker))
    for (task_id, _), (began, worker) in starts.items():
        runs.setdefault(task_id, []).append((began, float("inf"), worker))
    return runs


def test_paused_leader_changes_nothing_after_resuming(
    cluster_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    harness = cluster_factory(dead_after_s=6.0)
    witness = tmp_path / "witness.log"
    ids = [
        harness.client.submit(TaskSpec(command=witnessed(witness, 1.0)))[0]
        for _ in range(12)
    ]
    old_leader = harness.leader()
    time.sleep(0.5)
    harness.cluster.signal(old_leader, signal.SIGSTOP)
    new_leader = harness.leader(timeout_s=5.0)
    time.sleep(5.0)
    harness.cluster.signal(old_leader, signal.SIGCONT)

    finals = [harness.client.wait(task_id, timeout_s=60) for task_id in ids]
    assert new_leader != old_leader
    assert [t.state for t in finals] == ["SUCCEEDED"] * len(ids)
    runs = intervals(witness)
    assert sorted(runs) == sorted(ids)
    for task_id, task_runs in runs.items():
        task_runs.sort()
        for (_, end, _), (start, _, _) in itertools.pairwise(task_runs):
            assert end <= start, f"task {task_id} ran twice at once: {task_runs}"
    # Every replica converges on the same state, the resumed one included.
    deadline = time.monotonic() + 10
    while True:
        infos = harness.client.status().managers
        applied = {m.applied_index for m in infos}
        if len(applied) == 1 and all(m.role != "unreachable" for m in infos):
            break
        assert time.monotonic() < deadline, infos
        time.sleep(0.2)
    roles = sorted(m.role for m in infos)
    assert roles == ["follower", "follower", "leader"]


def test_finished_tasks_beyond_retention_are_pruned(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory(retain_finished=5)
    ids = [harness.client.submit(TaskSpec(command=f"echo {n}"))[0] for n in range(20)]
    for task_id in ids:
        harness.client.wait(task_id, timeout_s=30)
    deadline = time.monotonic() + 10
    while len(listed := harness.client.tasks(limit=0)) > 5:
        assert time.monotonic() < deadline, len(listed)
        time.sleep(0.2)
    assert [t.id for t in listed] == ids[::-1][:5]
    assert harness.client.get(ids[-1]).stdout == "19\n"
