"""The cluster under test: real manager and worker processes on loopback.

Wraps ``titan_ha.local_cluster`` with what the nemeses need: finding the
leader, signalling a worker together with its attempts, healing everything
(restarting the dead, resuming the paused) and finding processes of this
run that outlived their purpose. Every process of the run carries
JEPSEN_RUN_ID in its environment, and attempts inherit it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import psutil

from jepsen_like.config import HarnessError, RunConfig
from jepsen_like.netns import NetnsNetwork, netns_usable
from titan_ha.api.client import Client
from titan_ha.api.views import ClusterStatus
from titan_ha.config import ManagerSpec
from titan_ha.errors import TitanError
from titan_ha.local_cluster import LocalCluster, write_config

logger = logging.getLogger(__name__)

RUN_ENV = "JEPSEN_RUN_ID"
LIVE_WORKER_STATES = ("IDLE", "BUSY")


class HarnessCluster:
    """One local cluster, its processes and the faults applied to them."""

    def __init__(self, config: RunConfig, state_dir: Path) -> None:
        self.run_id = uuid.uuid4().hex[:12]
        state_dir.mkdir(parents=True, exist_ok=True)
        self.manager_ids = [f"m{i + 1}" for i in range(config.managers)]
        self.network = _network(config, self.manager_ids, self.run_id, self.pid)
        self.cluster_config = write_config(
            state_dir / "cluster.toml",
            0 if self.network else config.managers,
            keep=tuple(self.network.manager_specs()) if self.network else (),
            secret=f"jepsen-{self.run_id}",
            dead_after_s=config.dead_after_s,
            pulse_interval_s=config.pulse_interval_s,
        )
        env = {RUN_ENV: self.run_id}
        if config.test_faults:
            env["TITAN_TEST_FAULTS"] = ",".join(config.test_faults)
        self.local = LocalCluster(
            state_dir / "cluster.toml",
            state_dir,
            extra_env=env,
            prefix=self.network.prefix if self.network else None,
        )
        # Ids unique to the run, so that nothing else on the machine that
        # looks for "worker-01" by name can mistake ours for its own.
        self.worker_ids = [f"w{i + 1}-{self.run_id[:6]}" for i in range(config.workers)]
        self.endpoints = [m.grpc for m in self.cluster_config.managers]
        self._worker_args = ("--concurrency", str(config.worker_concurrency))
        self._client = Client(self.endpoints, endpoint_timeout_s=0.5)
        self._paused: dict[str, list[int]] = {}
        self._killed: set[str] = set()  # dead on purpose, until restarted
        self._partitioned = False

    # Lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        if self.network is not None:
            self.network.start()
        for manager_id in self.manager_ids:
            self.local.start_manager(manager_id)
        for worker_id in self.worker_ids:
            self.start_worker(worker_id)

    def start_worker(self, worker_id: str) -> None:
        self.local.start_worker(worker_id, *self._worker_args)

    def stop(self) -> None:
        self.resume_all()
        self.local.stop(timeout_s=5.0)
        self._client.close()
        if self.network is not None:
            self.network.close()

    def pid(self, name: str) -> int | None:
        process = self.local.processes.get(name)
        return process.pid if process is not None and process.poll() is None else None

    # Observing ----------------------------------------------------------------
    def status(self, deadline_s: float = 2.0) -> ClusterStatus | None:
        try:
            return self._client.status(deadline_s=deadline_s)
        except TitanError:
            return None

    def leader(self, timeout_s: float = 10.0) -> str | None:
        """The id of the live manager that leads, waiting up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.status(deadline_s=1.0)
            leader = status.leader if status else None
            if leader and self.local.alive(leader) and leader not in self._paused:
                return leader
            time.sleep(0.05)
        return None

    def busy_workers(self) -> list[str]:
        status = self.status()
        if status is None:
            return []
        return sorted(
            w.id for w in status.workers if w.running and w.id in self.worker_ids
        )

    def healthy(self) -> bool:
        """A leader leads and every worker is live in its view."""
        status = self.status(deadline_s=1.0)
        if status is None or not status.leader or status.stale:
            return False
        live = {w.id for w in status.workers if w.state in LIVE_WORKER_STATES}
        return set(self.worker_ids) <= live

    def wait_healthy(self, timeout_s: float) -> float | None:
        """Seconds until ``healthy()``, or None when it never became so."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.healthy():
                return time.monotonic() - started
            time.sleep(0.1)
        return None

    # Faults -------------------------------------------------------------------
    def kill(self, name: str, tree: bool = False) -> list[int]:
        """SIGKILLs ``name`` (and, with ``tree``, its attempts); returns the pids."""
        pids = self.tree_pids(name) if tree else [p for p in [self.pid(name)] if p]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if name in self.local.processes:
            self.local.processes[name].wait()
        self._paused.pop(name, None)
        self._killed.add(name)
        return pids

    def pause(self, name: str, tree: bool = False) -> list[int]:
        """SIGSTOPs ``name`` (and, with ``tree``, its attempts); returns the pids."""
        pids = self.tree_pids(name) if tree else [p for p in [self.pid(name)] if p]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        self._paused[name] = pids
        return pids

    def resume(self, name: str) -> None:
        for pid in reversed(self._paused.pop(name, [])):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def resume_all(self) -> None:
        for name in list(self._paused):
            self.resume(name)

    def partition(self, manager_id: str) -> list[int]:
        """Cuts ``manager_id`` off from the other managers; returns its pid."""
        if self.network is None:
            raise HarnessError("partition-leader needs the run's network")
        self.network.isolate(manager_id)
        self._partitioned = True
        return [p for p in [self.pid(manager_id)] if p]

    def heal_partition(self) -> None:
        if self.network is not None and self._partitioned:
            self.network.heal()
        self._partitioned = False

    def restart_dead(self) -> dict[str, int | None]:
        """Starts every manager and worker that is not running.

        Returns:
            The restarted processes, each with its exit status when it died
            on its own (a crash) or None when the harness had killed it.
        """
        started: dict[str, int | None] = {}
        for name in self.manager_ids + self.worker_ids:
            if self.local.alive(name):
                continue
            process = self.local.processes.get(name)
            crashed = name not in self._killed and process is not None
            started[name] = process.returncode if crashed and process else None
            if crashed:
                logger.warning(
                    "process died on its own name=%s status=%s", name, started[name]
                )
            if name in self.manager_ids:
                self.local.start_manager(name)
            else:
                self.start_worker(name)
            self._killed.discard(name)
        return started

    def crashed(self) -> dict[str, int | None]:
        """Processes that are dead although the harness did not kill them."""
        return {
            name: process.returncode
            for name, process in self.local.processes.items()
            if process.poll() is not None and name not in self._killed
        }

    def tree_pids(self, name: str) -> list[int]:
        """The process ``name`` and every process of its attempts, parent first.

        Attempts are found as descendants and, for those re-parented away,
        by the TITAN_WORKER_ID their environment carries.
        """
        root = self.pid(name)
        if root is None:
            return []
        pids = [root]
        with contextlib.suppress(psutil.Error):
            pids += [c.pid for c in psutil.Process(root).children(recursive=True)]
        for proc in self._run_processes():
            env = _environ(proc)
            if env.get("TITAN_WORKER_ID") == name and proc.pid not in pids:
                pids.append(proc.pid)
        return pids

    def stray_processes(self) -> list[dict[str, object]]:
        """Processes of this run that are neither a manager nor a worker."""
        own = {self.pid(name) for name in self.manager_ids + self.worker_ids}
        strays = []
        for proc in self._run_processes():
            if proc.pid in own:
                continue
            env = _environ(proc)
            with contextlib.suppress(psutil.Error):
                strays.append(
                    {
                        "pid": proc.pid,
                        "cmdline": " ".join(proc.cmdline())[:200],
                        "task_id": env.get("TITAN_TASK_ID"),
                        "attempt": env.get("TITAN_ATTEMPT"),
                        "worker": env.get("TITAN_WORKER_ID"),
                    }
                )
        return strays

    def kill_strays(self) -> None:
        for stray in self.stray_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(str(stray["pid"])), signal.SIGKILL)

    def _run_processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["status"]):
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            if _environ(proc).get(RUN_ENV) == self.run_id:
                found.append(proc)
        return found


class Network(Protocol):
    """Where managers live and how one is cut off (netns.py, proxy.py)."""

    mode: str

    def manager_specs(self) -> list[ManagerSpec]: ...
    def prefix(self, name: str) -> list[str]: ...
    def start(self) -> None: ...
    def isolate(self, manager_id: str) -> None: ...
    def heal(self) -> None: ...
    def close(self) -> None: ...


def _network(
    config: RunConfig,
    manager_ids: list[str],
    run_id: str,
    pid_of: Callable[[str], int | None],
) -> Network | None:
    """The network partitions need; None (plain loopback) without them."""
    if "partition-leader" not in config.nemeses:
        return None
    mode = config.partition_mode
    if mode == "auto":
        mode = "proxy" if netns_usable() else "netns"
    if mode == "netns":
        return NetnsNetwork(manager_ids, run_id)
    from jepsen_like.proxy import ProxyNetwork

    return ProxyNetwork(manager_ids, pid_of)


def _environ(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except psutil.Error:
        return {}
