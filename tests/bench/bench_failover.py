"""Failover time: leader SIGKILL while a client submits in a loop.

For each kill, the failover time is from the SIGKILL to the acknowledgement
of the first submit invoked after it. The killed replica is restarted and
allowed to catch up before the next kill.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec
from titan_ha.errors import TitanError
from titan_ha.local_cluster import LocalCluster, write_config


def leader_of(client: Client, cluster: LocalCluster) -> str:
    while True:
        try:
            leader = client.status(deadline_s=1.0).leader
            if leader and cluster.alive(leader):
                return leader
        except TitanError:
            pass
        time.sleep(0.05)


def measure(kills: int = 10) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "cluster.toml"
        write_config(config, 3, secret="bench", dead_after_s=6.0)
        cluster = LocalCluster(config, Path(tmp) / "state")
        cluster.start(workers=0)
        client = Client(cluster.endpoints.split(","))
        acks: list[tuple[float, float]] = []  # (invoked, acknowledged)
        stop = threading.Event()

        def submit_loop() -> None:
            while not stop.is_set():
                invoked = time.monotonic()
                try:
                    client.submit(TaskSpec(command="true"), deadline_s=10.0)
                    acks.append((invoked, time.monotonic()))
                except TitanError:
                    pass

        loader = threading.Thread(target=submit_loop)
        failovers = []
        try:
            leader_of(client, cluster)
            loader.start()
            for _ in range(kills):
                time.sleep(1.0)
                victim = leader_of(client, cluster)
                killed_at = time.monotonic()
                cluster.kill(victim)
                while not any(i > killed_at for i, _ in acks[-50:]):
                    time.sleep(0.005)
                first = min(a for i, a in acks[-50:] if i > killed_at)
                failovers.append(first - killed_at)
                cluster.start_manager(victim)
                time.sleep(1.5)  # let the restarted replica catch up
        finally:
            stop.set()
            if loader.is_alive():
                loader.join()
            client.close()
            cluster.stop()
    return failovers


def main() -> None:
    failovers = measure()
    print("## Failover: leader SIGKILL to the next acknowledged submit\n")
    print("| kills | median | max | each (s) |")
    print("| --- | --- | --- | --- |")
    each = " ".join(f"{f:.2f}" for f in failovers)
    print(
        f"| {len(failovers)} | {statistics.median(failovers):.2f} s | "
        f"{max(failovers):.2f} s | {each} |"
    )


if __name__ == "__main__":
    main()
