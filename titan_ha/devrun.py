"""``make run``: a local HA cluster in the foreground, supervised until Ctrl-C.

A process that dies (a crash, or a chaos engineer's SIGKILL) is started
again after a few seconds, the way a service manager would; ``--no-restart``
leaves it dead. Each process's pid is in ``STATE/pids/NAME.pid``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import click

from titan_ha.errors import ConfigError
from titan_ha.local_cluster import LocalCluster

RESTART_AFTER_S = 3.0
# Ctrl-C should not wait long for running attempts: they are requeued.
WORKER_DRAIN_GRACE_S = 3.0


def announce(cluster: LocalCluster, workers: int) -> None:
    click.echo(
        f"Titan HA: {len(cluster.config.managers)} managers, {workers} workers "
        f"(logs in {cluster.log_dir}/, pids in {cluster.pid_dir}/, "
        f"state in {cluster.data_dir}/)"
    )
    for spec in cluster.config.managers:
        dashboard = f"  dashboard http://{spec.dashboard}/" if spec.dashboard else ""
        click.echo(
            f"  manager {spec.id}: grpc {spec.grpc}  raft {spec.raft}{dashboard}"
        )
    click.echo(f"\n  export TITAN_MANAGERS={cluster.endpoints}")
    click.echo('  bin/titan submit --command "echo hello"\n  bin/titan status\n')
    click.echo("Ctrl-C stops everything.")


def supervise(cluster: LocalCluster, stop: threading.Event, restart: bool) -> None:
    """Reports processes that exit and, with ``restart``, starts them again."""
    due: dict[str, float] = {}
    while not stop.wait(0.5):
        for name, process in list(cluster.processes.items()):
            if name in due or process.poll() is None:
                continue
            later = f"; restarting in {RESTART_AFTER_S:.0f}s" if restart else ""
            click.echo(
                f"{name} exited with code {process.returncode} "
                f"(log {cluster.log_dir}/{name}.log){later}",
                err=True,
            )
            if restart:
                due[name] = time.monotonic() + RESTART_AFTER_S
            else:
                del cluster.processes[name]
        for name, when in list(due.items()):
            if time.monotonic() >= when:
                del due[name]
                process = cluster.restart(name)
                click.echo(f"{name} restarted (pid {process.pid})", err=True)


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    default="configs/ha-local.toml",
    show_default=True,
)
@click.option(
    "--state-dir", type=click.Path(file_okay=False), default=".titan", show_default=True
)
@click.option("--workers", type=click.IntRange(0, 64), default=2, show_default=True)
@click.option(
    "--restart/--no-restart",
    default=True,
    show_default=True,
    help="Start processes that die again after a few seconds.",
)
def main(config_path: str, state_dir: str, workers: int, restart: bool) -> None:
    """Run a local HA cluster in the foreground until Ctrl-C."""
    try:
        cluster = LocalCluster(Path(config_path), Path(state_dir))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    cluster.start(workers, "--drain-grace", str(WORKER_DRAIN_GRACE_S))
    announce(cluster, workers)
    supervise(cluster, stop, restart)
    click.echo("stopping…")
    cluster.stop()
    click.echo("stopped.")


if __name__ == "__main__":
    main()
