"""Leader and worker deaths by SIGKILL, on their own clusters."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import DEAD_AFTER_S, Harness

from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec
from titan_ha.errors import TitanError

pytestmark = pytest.mark.integration


def submit_in_a_loop(harness: Harness, stop: threading.Event) -> list[tuple[int, str]]:
    """Runs ``titan submit`` back to back until ``stop``; (exit code, output)."""
    results = []
    while not stop.is_set():
        result = harness.titan("submit", f"--command=echo loop-{len(results)}")
        results.append((result.returncode, result.stdout.strip() or result.stderr))
    return results


def test_leader_sigkill_loses_no_task(cluster_factory: Callable[..., Harness]) -> None:
    harness = cluster_factory()
    client = harness.client
    ids = [client.submit(TaskSpec(command="sleep 2"))[0] for _ in range(20)]
    old_leader = harness.leader()
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        loop = pool.submit(submit_in_a_loop, harness, stop)
        time.sleep(0.5)
        killed_at = time.monotonic()
        harness.cluster.kill(old_leader)
        new_leader = harness.leader(timeout_s=5.0)
        elected_s = time.monotonic() - killed_at
        time.sleep(1.0)
        stop.set()
        submitted = loop.result()
    assert new_leader != old_leader
    assert elected_s <= 3.0, f"new leader after {elected_s:.2f}s"
    # Submitting worked throughout: every CLI submit printed an id.
    assert [code for code, _ in submitted] == [0] * len(submitted)
    assert len(submitted) >= 3
    ids += [task_id for _, task_id in submitted]

    finals = [client.wait(task_id, timeout_s=60) for task_id in ids]
    assert [t.state for t in finals] == ["SUCCEEDED"] * len(ids)
    listed = {t.id for t in client.tasks(limit=0)}
    assert set(ids) <= listed
    assert len(listed) == len(ids)
    # The new leader gave the healthy workers a full grace period.
    assert sorted(w.state for w in client.status().workers) == ["IDLE", "IDLE"]
    assert all(len(t.attempts) == 1 for t in finals)


def test_worker_sigkill_reruns_task_elsewhere(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory()
    client = harness.client
    task_id, _ = client.submit(TaskSpec(command="sleep 5"))
    deadline = time.monotonic() + 5
    while (task := client.get(task_id)).state != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim = task.attempts[0].worker_id
    harness.cluster.kill(victim)
    killed_at = time.monotonic()

    while True:
        states = {w.id: w.state for w in client.status().workers}
        if states[victim] == "DEAD":
            break
        assert time.monotonic() - killed_at <= DEAD_AFTER_S + 2
        time.sleep(0.1)

    task = client.wait(task_id, timeout_s=20)
    assert task.state == "SUCCEEDED"
    assert [a.outcome for a in task.attempts] == ["WORKER_LOST", "SUCCEEDED"]
    survivor = next(w for w in ("worker-01", "worker-02") if w != victim)
    assert task.attempts[1].worker_id == survivor


def test_one_manager_of_three_answers_status_but_refuses_submit(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory(workers=0)
    leader = harness.leader()
    others = [m.id for m in harness.cluster.config.managers if m.id != leader]
    harness.cluster.kill(leader)
    harness.cluster.kill(others[0])
    survivor = others[1]
    time.sleep(2.5)  # past the old leader's fallback timeout

    status = harness.titan("status", "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["leader"] is None
    roles = {m["id"]: m["role"] for m in shown["managers"]}
    assert roles[leader] == roles[others[0]] == "unreachable"
    assert roles[survivor] in ("follower", "candidate")

    started = time.monotonic()
    submitted = harness.titan("submit", "--command=true")
    assert submitted.returncode == 3
    assert time.monotonic() - started < 3.0
    listed = harness.titan("tasks")
    assert listed.returncode == 3


def test_sigterm_on_the_leader_hands_leadership_over(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory(workers=0)
    old_leader = harness.leader()
    process = harness.cluster.processes[old_leader]
    stopped_at = time.monotonic()
    harness.cluster.signal(old_leader, signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    new_leader = harness.leader(timeout_s=5.0)
    handover_s = time.monotonic() - stopped_at
    assert new_leader != old_leader
    log = (harness.cluster.log_dir / f"{old_leader}.log").read_text()
    assert "leadership handed over" in log
    assert handover_s < 3.0
    task_id, _ = harness.client.submit(TaskSpec(command="true"))
    assert harness.client.get(task_id).state == "PENDING"


def test_reads_never_go_backwards_across_a_failover(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory()
    ids = [harness.client.submit(TaskSpec(command="sleep 0.5"))[0] for _ in range(6)]
    order = ["PENDING", "RUNNING", "SUCCEEDED"]
    seen: dict[str, list[str]] = {task_id: [] for task_id in ids}
    stop = threading.Event()

    def read_loop() -> None:
        reader = Client(harness.cluster.endpoints.split(","))
        while not stop.is_set():
            for task_id in ids:
                with contextlib.suppress(TitanError):
                    seen[task_id].append(reader.get(task_id).state)
        reader.close()

    with ThreadPoolExecutor(2) as pool:
        readers = [pool.submit(read_loop) for _ in range(2)]
        time.sleep(0.7)
        harness.cluster.kill(harness.leader())
        for task_id in ids:
            harness.client.wait(task_id, timeout_s=30)
        stop.set()
        for reader in readers:
            reader.result()
    for task_id, states in seen.items():
        ranks = [order.index(state) for state in states]
        assert ranks == sorted(ranks), f"{task_id} went backwards: {states}"
        assert states[-1] == "SUCCEEDED"


def test_fifty_cli_submits_across_a_leader_kill_make_fifty_tasks(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory()
    printed: list[str] = []
    for n in range(50):
        if n == 10:
            harness.cluster.kill(harness.leader())
        result = harness.titan("submit", f"--command=echo {n}")
        assert result.returncode == 0, result.stderr
        printed.append(result.stdout.strip())
    listed = harness.client.tasks(limit=0)
    assert sorted(t.id for t in listed) == sorted(printed)
    finals = [harness.client.wait(task_id, timeout_s=60) for task_id in printed]
    assert [t.stdout for t in finals] == [f"{n}\n" for n in range(50)]
    assert {t.state for t in finals} == {"SUCCEEDED"}


def test_a_paused_first_endpoint_costs_one_timeout_not_one_per_call(
    cluster_factory: Callable[..., Harness],
) -> None:
    harness = cluster_factory(workers=0)
    harness.leader()
    harness.cluster.signal("m1", signal.SIGSTOP)  # first in the endpoint list
    try:
        durations = []
        for n in range(6):
            started = time.monotonic()
            harness.client.submit(TaskSpec(command=f"echo {n}"), deadline_s=10)
            durations.append(time.monotonic() - started)
        # The first submit may wait for the timeout and an election; the
        # client then tries m1 last, so the others do not wait for it again.
        assert max(durations[2:]) < 0.5, durations
        status = harness.client.status(deadline_s=3.0)
        assert status.leader in ("m2", "m3")
    finally:
        harness.cluster.signal("m1", signal.SIGCONT)


def submit_with_followers_frozen(
    harness: Harness, *args: str
) -> subprocess.CompletedProcess[str]:
    """A CLI submit while only the leader runs: it logs, but cannot commit."""
    leader = harness.leader()
    followers = [m for m in ("m1", "m2", "m3") if m != leader]
    for follower in followers:
        harness.cluster.signal(follower, signal.SIGSTOP)
    try:
        return harness.titan("submit", *args, timeout_s=60)
    finally:
        for follower in followers:
            harness.cluster.signal(follower, signal.SIGCONT)


def test_a_submit_whose_commit_is_stuck_says_its_outcome_is_unknown(
    cluster_factory: Callable[..., Harness],
) -> None:
    # The CLI must not call that "no leader", which invites a blind retry
    # that may run the task twice.
    harness = cluster_factory(workers=0)
    stuck = submit_with_followers_frozen(harness, "--command", "echo stuck")
    keyed = submit_with_followers_frozen(
        harness, "--command", "echo keyed", "--idempotency-key", "k-stuck"
    )

    assert (stuck.returncode, stuck.stdout) == (1, ""), stuck.stderr
    assert stuck.stderr.count("\n") == 1
    assert stuck.stderr.startswith("error: submit outcome unknown, it may still ")
    assert stuck.stderr.endswith(
        "; look at 'titan tasks' before submitting again "
        "(--idempotency-key makes a retry safe)\n"
    )
    assert (keyed.returncode, keyed.stdout) == (1, ""), keyed.stderr
    assert keyed.stderr.endswith(
        "; submit again with --idempotency-key k-stuck to learn it\n"
    )
    # With the followers back, the same key answers for its one task.
    harness.leader()
    again = harness.titan(
        "submit", "--command", "echo keyed", "--idempotency-key", "k-stuck"
    )
    assert again.returncode == 0, again.stderr
    tasks = harness.client.tasks(limit=0)
    assert [t.id for t in tasks if t.command == "echo keyed"] == [again.stdout.strip()]
    assert len([t for t in tasks if t.command == "echo stuck"]) <= 1
