"""Managers in network namespaces, so that the leader can be cut off.

Each manager runs in a namespace of its own (``ip netns exec``), with one
veth whose other end sits on a bridge in the root namespace. The bridge has
an address on the same /24, so workers and clients, which run in the root
namespace, reach every manager, and managers reach each other across the
bridge. Isolating a manager adds blackhole routes between it and every other
manager, in both directions: their Raft (and gRPC) traffic is dropped,
while the root namespace still reaches it. Healing deletes the routes.

Needs root and iproute2. The names carry the run id, so runs side by side
do not meet, and ``close`` removes what ``start`` made.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess

from titan_ha.config import ManagerSpec

logger = logging.getLogger(__name__)

# Ports inside each namespace: every manager has an address of its own, so
# the familiar ports never collide.
GRPC_PORT, RAFT_PORT, DASHBOARD_PORT = 50051, 7001, 8080
FIRST_HOST = 11


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the message is its one-line error."""


def netns_usable() -> str | None:
    """None when namespaces can be made here, else why not, in one line."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's ip"
    return None


class NetnsNetwork:
    """One namespace per manager on one bridge; partitions by routes."""

    mode = "netns"

    def __init__(self, manager_ids: list[str], run_id: str) -> None:
        tag = run_id[:6]
        digest = hashlib.sha256(run_id.encode()).digest()
        # 10.200.0.0 - 10.249.255.0: one /24 per run, drawn from its id.
        self._prefix = f"10.{200 + digest[0] % 50}.{digest[1]}"
        self._bridge = f"tjb{tag}"
        self._namespaces = {m: f"tj-{tag}-{m}" for m in manager_ids}
        self._veths = {m: f"tj{tag}{m}"[:15] for m in manager_ids}
        self._hosts = {
            m: f"{self._prefix}.{FIRST_HOST + i}" for i, m in enumerate(manager_ids)
        }
        self._routes: list[tuple[str, str]] = []  # (namespace, blackholed host)
        self._made: list[tuple[str, str]] = []  # ("netns" | "link", name)

    def manager_specs(self) -> list[ManagerSpec]:
        return [
            ManagerSpec(
                m,
                f"{host}:{GRPC_PORT}",
                f"{host}:{RAFT_PORT}",
                f"{host}:{DASHBOARD_PORT}",
            )
            for m, host in self._hosts.items()
        ]

    def prefix(self, name: str) -> list[str]:
        namespace = self._namespaces.get(name)
        return ["ip", "netns", "exec", namespace] if namespace else []

    def start(self) -> None:
        """Makes the bridge and the namespaces; undoes it all if a step fails."""
        try:
            _ip("link", "add", self._bridge, "type", "bridge")
            self._made.append(("link", self._bridge))
            _ip("addr", "add", f"{self._prefix}.1/24", "dev", self._bridge)
            _ip("link", "set", self._bridge, "up")
            for manager, namespace in self._namespaces.items():
                self._add_namespace(manager, namespace)
        except NetnsError:
            self.close()
            raise
        logger.info(
            "network namespaces ready bridge=%s managers=%s",
            self._bridge,
            ",".join(f"{m}={h}" for m, h in self._hosts.items()),
        )

    def _add_namespace(self, manager: str, namespace: str) -> None:
        veth = self._veths[manager]
        _ip("netns", "add", namespace)
        self._made.append(("netns", namespace))
        _ip(
            "link",
            "add",
            veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            namespace,
        )
        self._made.append(("link", veth))
        _ip("link", "set", veth, "master", self._bridge, "up")
        _ip("-n", namespace, "addr", "add", f"{self._hosts[manager]}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")

    def isolate(self, manager_id: str) -> None:
        """Drops all traffic between ``manager_id`` and the other managers."""
        own = self._namespaces[manager_id]
        for other, namespace in self._namespaces.items():
            if other == manager_id:
                continue
            for ns, host in (
                (own, self._hosts[other]),
                (namespace, self._hosts[manager_id]),
            ):
                _ip("-n", ns, "route", "add", "blackhole", f"{host}/32")
                self._routes.append((ns, host))

    def heal(self) -> None:
        """Deletes every blackhole route; a route already gone is no error."""
        routes, self._routes = self._routes, []
        for namespace, host in routes:
            with contextlib.suppress(NetnsError):
                _ip("-n", namespace, "route", "del", "blackhole", f"{host}/32")

    def close(self) -> None:
        """Removes the namespaces, veths and bridge this object made."""
        self._routes = []
        made, self._made = self._made, []
        for kind, name in reversed(made):
            # Deleting a namespace deletes the veth end inside it, and with
            # it the pair; a link already gone is no error.
            with contextlib.suppress(NetnsError):
                if kind == "netns":
                    _ip("netns", "delete", name)
                elif _link_exists(name):
                    _ip("link", "delete", name)


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _ip(*args: str) -> None:
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=10, check=False
    )
    if done.returncode != 0:
        error = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise NetnsError(f"ip {' '.join(args)}: {error[0]}")
