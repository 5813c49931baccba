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
from collections.abc import Callable
from pathlib import Path

from titan_ha.config import ClusterConfig, ManagerSpec


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
        if spec.raft_bind:
            lines.append(f'raft_bind = "{spec.raft_bind}"')
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
        prefix: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = ClusterConfig.from_toml(config_path)
        self.state_dir = state_dir
        self.log_dir = state_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = state_dir / "data" if data else None
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}
        self.pid_dir = state_dir / "pids"
        # Per process name, what its command runs under (e.g. ``ip netns exec``).
        self._prefix = prefix or (lambda name: [])
        self._lock = threading.Lock()

    @property
    def endpoints(self) -> str:
        return ",".join(m.grpc for m in self.config.managers)

    def manager_spec(self, manager_id: str) -> ManagerSpec:
        return self.config.manager(manager_id)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - child owns it
        process = subprocess.Popen(
            [*self._prefix(name), sys.executable, "-m", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        with self._lock:
            self.processes[name] = process
            self.commands[name] = args
        self.pid_dir.mkdir(exist_ok=True)
        (self.pid_dir / f"{name}.pid").write_text(f"{process.pid}\n")
        return process

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        """Starts ``name`` again with the arguments it was last started with."""
        return self._spawn(name, self.commands[name])

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

    def start(self, workers: int = 2, *worker_args: str) -> None:
        for spec in self.config.managers:
            self.start_manager(spec.id)
        for i in range(workers):
            self.start_worker(f"worker-{i + 1:02d}", *worker_args)

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
        """SIGTERM the workers, then the managers; SIGKILL what outlives it.

        Workers go first, while a leader can still take their last reports.
        """
        with self._lock:
            processes = dict(self.processes)
        managers = {m.id for m in self.config.managers}
        deadline = time.monotonic() + timeout_s
        for group in (
            [n for n in processes if n not in managers],
            [n for n in processes if n in managers],
        ):
            for name in group:
                with contextlib.suppress(ProcessLookupError):
                    processes[name].send_signal(signal.SIGCONT)
                    processes[name].terminate()
            for name in group:
                try:
                    processes[name].wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    processes[name].kill()
                    processes[name].wait()
