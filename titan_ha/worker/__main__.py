"""``bin/worker``: runs a worker agent until SIGTERM (drain) or SIGINT."""

from __future__ import annotations

import os

# Before grpc is imported: a worker forks for every attempt, and gRPC's
# fork handlers would otherwise try to pause its threads around each fork
# (slow, and unsafe while calls are in flight). The child never uses gRPC.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import signal
import sys
import threading

import click

from titan_ha import logs
from titan_ha.api.client import Client
from titan_ha.config import parse_endpoints
from titan_ha.errors import ConfigError
from titan_ha.worker.agent import WorkerAgent
from titan_ha.worker.executors.shell import ShellExecutor
from titan_ha.worker.settings import AgentSettings


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--id", "worker_id", required=True, help="This worker's id, e.g. worker-01."
)
@click.option(
    "--managers",
    envvar="TITAN_MANAGERS",
    default="127.0.0.1:50051",
    show_default=True,
    help="Manager endpoints H:P,H:P (any may be dead).",
)
@click.option("--token", envvar="TITAN_TOKEN", default=None, help="API bearer token.")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=1, show_default=True
)
@click.option(
    "--drain-grace",
    "drain_grace_s",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds running attempts get on SIGTERM.",
)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text")
def main(
    worker_id: str,
    managers: str,
    token: str | None,
    concurrency: int,
    drain_grace_s: float,
    log_format: str,
) -> None:
    """Run a Titan HA worker."""
    try:
        endpoints = parse_endpoints(managers)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    logs.configure(log_format, name=worker_id)
    agent = WorkerAgent(
        AgentSettings(
            worker_id,
            concurrency=concurrency,
            drain_grace_s=drain_grace_s,
            cluster=",".join(sorted(endpoints)),
        ),
        Client(endpoints, token=token),
        ShellExecutor(),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.start()
    stop.wait()
    agent.drain()


if __name__ == "__main__":
    main()
