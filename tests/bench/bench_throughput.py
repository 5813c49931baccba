"""Submit latency and throughput, and how fast an idle cluster starts a task.

A 3-manager cluster with 2 workers on loopback. Submits go through the
client library (leader redirects, idempotency keys, one Raft commit each).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec
from titan_ha.local_cluster import LocalCluster, write_config


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def submit_latencies(client: Client, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        client.submit(TaskSpec(command="true"))
        latencies.append(time.perf_counter() - started)
    return latencies


def parallel_rate(endpoints: list[str], threads: int, per_thread: int) -> float:
    clients = [Client(endpoints) for _ in range(threads)]
    for client in clients:
        client.submit(TaskSpec(command="true"))  # find the leader first
    started = time.perf_counter()
    runners = [
        threading.Thread(target=submit_latencies, args=(c, per_thread)) for c in clients
    ]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    return threads * per_thread / (time.perf_counter() - started)


def start_latencies(client: Client, count: int) -> list[float]:
    """Submit to the attempt's start on an idle worker, from attempt records."""
    latencies = []
    for _ in range(count):
        task_id, _ = client.submit(TaskSpec(command="true"))
        task = client.wait(task_id, timeout_s=10, poll_s=0.02)
        latencies.append(task.attempts[0].started_at - task.submitted_at)
        time.sleep(0.05)
    return latencies


def drain(client: Client) -> float:
    """Tasks finished per second while the two workers empty the backlog."""
    started = time.perf_counter()
    pending = client.status().tasks
    backlog = pending.get("PENDING", 0) + pending.get("RUNNING", 0)
    while True:
        counts = client.status().tasks
        if counts.get("PENDING", 0) + counts.get("RUNNING", 0) == 0:
            return backlog / (time.perf_counter() - started)
        time.sleep(0.2)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "cluster.toml"
        write_config(config, 3, secret="bench", dead_after_s=6.0)
        cluster = LocalCluster(config, Path(tmp) / "state")
        cluster.start(workers=2)
        endpoints = cluster.endpoints.split(",")
        client = Client(endpoints)
        try:
            time.sleep(2.0)
            starts = start_latencies(client, 30)
            single = submit_latencies(client, 500)
            rate_1 = len(single) / sum(single)
            rate_8 = parallel_rate(endpoints, 8, 150)
            drain_rate = drain(client)
        finally:
            client.close()
            cluster.stop()
    print("## Submits and task starts (3 managers, 2 workers, loopback)\n")
    print("| measure | median | p99 | rate |")
    print("| --- | --- | --- | --- |")
    print(
        f"| submit, 1 client | {statistics.median(single) * 1000:.2f} ms | "
        f"{percentile(single, 0.99) * 1000:.2f} ms | {rate_1:.0f}/s |"
    )
    print(f"| submit, 8 clients | - | - | {rate_8:.0f}/s |")
    print(
        f"| submit to start on an idle worker | "
        f"{statistics.median(starts) * 1000:.1f} ms | "
        f"{percentile(starts, 0.99) * 1000:.1f} ms | - |"
    )
    print(
        f"| tasks run (`true`, 2 workers, concurrency 1) | - | - | {drain_rate:.0f}/s |"
    )


if __name__ == "__main__":
    main()
