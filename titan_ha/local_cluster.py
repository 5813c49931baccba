"""A local cluster of real manager and worker processes (``make run``, tests).

Each process is started with this Python, logs to ``STATE/logs/NAME.log`` and
can be stopped, killed or paused with real signals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

from titan_ha.config import ClusterConfig, ManagerSpec
from titan_ha.errors import ConfigError


def free_ports(count: int) -> list[int]:
    """Ports that were free on loopback a moment ago."""
    sockets, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def write_config(
    path: Path,
    managers: int,
    keep: tuple[ManagerSpec, ...] = (),
    **cluster: float | str,
) -> ClusterConfig:
    """Writes a cluster TOML: the ``keep`` managers, then ``managers`` new ones
    on free loopback ports, numbered on from them (m1, m2, ...)."""
    ports = free_ports(3 * managers)
    lines = ["[cluster]"]
    lines += [
        f"{key} = {value!r}" if isinstance(value, str) else f"{key} = {value}"
        for key, value in cluster.items()
    ]
    specs = list(keep)
    for i in range(managers):
        grpc_port, raft_port, http_port = ports[3 * i : 3 * i + 3]
        specs.append(
            ManagerSpec(
                f"m{len(keep) + i + 1}",
                f"127.0.0.1:{grpc_port}",
                f"127.0.0.1:{raft_port}",
                f"127.0.0.1:{http_port}",
            )
        )
    for spec in specs:
        lines += [
            "",
            "[[managers]]",
            f'id = "{spec.id}"',
            f'grpc = "{spec.grpc}"',
            f'raft = "{spec.raft}"',
            f'dashboard = "{spec.dashboard}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return ClusterConfig.from_toml(path)


class LocalCluster:
    """Starts, stops, kills and pauses the processes of one local cluster."""

    def __init__(
        self,
        config_path: Path,
        state_dir: Path,
        *,
        data: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = ClusterConfig.from_toml(config_path)
        self.state_dir = state_dir
        self.log_dir = state_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = state_dir / "data" if data else None
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    @property
    def endpoints(self) -> str:
        return ",".join(m.grpc for m in self.config.managers)

    def manager_spec(self, manager_id: str) -> ManagerSpec:
        return self.config.manager(manager_id)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - child owns it
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        with self._lock:
            self.processes[name] = process
        return process

    def start_manager(
        self, manager_id: str, config_path: Path | None = None, name: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Starts a manager from this cluster's config, or from ``config_path``."""
        config = config_path or self.config_path
        args = ["titan_ha.manager", "--config", str(config), "--id", manager_id]
        if self.data_dir is not None:
            args += ["--data-dir", str(self.data_dir)]
        return self._spawn(name or manager_id, args)

    def start_worker(
        self, worker_id: str, *extra: str, name: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Starts a worker; ``name`` keys its process and log (default: its id)."""
        args = ["titan_ha.worker", "--id", worker_id, "--managers", self.endpoints]
        return self._spawn(name or worker_id, [*args, *extra])

    def start(self, workers: int = 2) -> None:
        for spec in self.config.managers:
            self.start_manager(spec.id)
        for i in range(workers):
            self.start_worker(f"worker-{i + 1:02d}")

    def signal(self, name: str, signum: int) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.kill(process.pid, signum)

    def kill(self, name: str) -> None:
        """SIGKILL and reap one process."""
        self.signal(name, signal.SIGKILL)
        self.processes[name].wait()

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM everything (workers first), then SIGKILL what is left."""
        with self._lock:
            processes = dict(self.processes)
        order = sorted(
            processes, key=lambda n: n in {m.id for m in self.config.managers}
        )
        for name in order:
            with contextlib.suppress(ProcessLookupError):
                processes[name].send_signal(signal.SIGCONT)
                processes[name].terminate()
        deadline = time.monotonic() + timeout_s
        for process in processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
def main(config_path: str, state_dir: str, workers: int) -> None:
    """Run a local HA cluster in the foreground until Ctrl-C."""
    try:
        cluster = LocalCluster(Path(config_path), Path(state_dir))
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    cluster.start(workers)
    click.echo(
        f"Titan HA: {len(cluster.config.managers)} managers, {workers} workers "
        f"(logs in {cluster.log_dir}/, state in {cluster.data_dir}/)"
    )
    for spec in cluster.config.managers:
        dashboard = f"  dashboard http://{spec.dashboard}/" if spec.dashboard else ""
        click.echo(
            f"  manager {spec.id}: grpc {spec.grpc}  raft {spec.raft}{dashboard}"
        )
    click.echo(f"\n  export TITAN_MANAGERS={cluster.endpoints}")
    click.echo('  bin/titan submit --command "echo hello"\n  bin/titan status\n')
    click.echo("Ctrl-C stops everything.")
    while not stop.wait(0.5):
        for name, process in list(cluster.processes.items()):
            if process.poll() is not None:
                click.echo(
                    f"{name} exited with code {process.returncode}; "
                    f"see {cluster.log_dir}/{name}.log",
                    err=True,
                )
                del cluster.processes[name]
    click.echo("stopping…")
    cluster.stop()
    click.echo("stopped.")


if __name__ == "__main__":
    main()
