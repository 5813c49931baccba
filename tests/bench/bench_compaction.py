"""How long log compaction stalls the Raft tick thread, with N finished tasks.

One replica holds N finished tasks (each with a small output); a thread
commits barrier entries back to back, and the longest commit latency around a
forced compaction is the longest stall of the tick thread. Compaction in a
forked child (what managers do) and inline (pysyncobj's in-process path) are
measured side by side, while a gRPC server in the same process answers calls,
as a manager's does.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")  # as in a manager

import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from titan_ha.local_cluster import free_ports
from titan_ha.manager.raft import RaftNode, RaftSettings
from titan_ha.manager.state import ClusterState


def fill(state: ClusterState, tasks: int) -> None:
    """Applies submit, assign and complete for ``tasks`` tasks directly."""
    state.apply({"op": "new_epoch", "term": 1, "leader": "bench"})
    state.apply(
        {
            "op": "register_worker",
            "epoch": 1,
            "worker_id": "w",
            "incarnation": "i",
            "now": 1.0,
        }
    )
    for n in range(tasks):
        task_id = f"t{n:08d}"
        state.apply(
            {
                "op": "submit",
                "task_id": task_id,
                "now": 1.0,
                "spec": {"command": f"echo {n}", "idempotency_key": f"k{n}"},
            }
        )
        state.apply(
            {
                "op": "assign",
                "epoch": 1,
                "task_id": task_id,
                "attempt": 1,
                "worker_id": "w",
                "incarnation": "i",
                "now": 2.0,
            }
        )
        state.apply(
            {
                "op": "complete",
                "epoch": 1,
                "task_id": task_id,
                "attempt": 1,
                "worker_id": "w",
                "incarnation": "i",
                "outcome": "SUCCEEDED",
                "exit_code": 0,
                "stdout": f"{n}\n",
                "now": 3.0,
            }
        )


def grpc_traffic(
    done: threading.Event,
) -> tuple[grpc.Server, threading.Thread, list[int]]:
    """A health server in this process and a client thread calling it."""
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    answered = [0]

    def call_loop() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while not done.is_set():
                stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
                answered[0] += 1

    thread = threading.Thread(target=call_loop)
    thread.start()
    return server, thread, answered


def measure_stall(tasks: int, in_fork: bool, window_s: float = 6.0) -> dict[str, float]:
    state = ClusterState()
    fill(state, tasks)
    done = threading.Event()
    server, caller, answered = grpc_traffic(done)
    with tempfile.TemporaryDirectory() as data_dir:
        raft = RaftNode(
            RaftSettings(
                f"127.0.0.1:{free_ports(1)[0]}",
                (),
                "bench-secret",
                data_dir=data_dir,
                compaction_in_fork=in_fork,
                compaction_split=False,
            ),
            state,
        )
        try:
            while not raft.is_leader:
                time.sleep(0.01)
            for _ in range(3):
                raft.propose({"op": "barrier"})
            latencies: list[float] = []

            def commit_loop() -> None:
                while not done.is_set():
                    started = time.perf_counter()
                    raft.propose({"op": "barrier"}, timeout_s=30)
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.002)

            loop = threading.Thread(target=commit_loop)
            loop.start()
            time.sleep(0.5)
            raft.force_compaction()
            time.sleep(window_s)
            done.set()
            loop.join()
        finally:
            done.set()
            caller.join()
            server.stop(0)
            raft.close()
    return {
        "max_s": max(latencies),
        "p50_s": statistics.median(latencies),
        "commits": float(len(latencies)),
        "grpc_calls": float(answered[0]),
    }


def main(runs: int = 3) -> None:
    tasks = 100_000
    print(f"## Log compaction with {tasks:,} finished tasks\n")
    print(
        "| compaction | longest tick stall, median of runs (each) | median commit "
        "| gRPC calls answered |"
    )
    print("| --- | --- | --- | --- |")
    for in_fork, count in ((True, runs), (False, 1)):
        results = [measure_stall(tasks, in_fork) for _ in range(count)]
        stalls = sorted(r["max_s"] * 1000 for r in results)
        label = "forked child (managers)" if in_fork else "inline on the tick thread"
        each = ", ".join(f"{s:.0f}" for s in stalls)
        print(
            f"| {label} | {statistics.median(stalls):.0f} ms ({each}) | "
            f"{statistics.median(r['p50_s'] for r in results) * 1000:.2f} ms | "
            f"{statistics.median(r['grpc_calls'] for r in results):.0f} |"
        )


if __name__ == "__main__":
    main()
