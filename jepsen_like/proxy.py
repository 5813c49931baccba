"""A TCP proxy in front of every manager's Raft port, so that the leader can
be cut off without root.

Each manager binds its Raft server on a port of its own (``raft_bind``) and
announces the proxy's port (``raft``) to its peers, so every Raft connection
passes through the proxy of the replica it was dialled to. pysyncobj keeps
one connection per pair, dialled by the replica with the greater address,
and the initiator names itself only inside the encrypted handshake: the
proxy learns who dialled by finding which manager process owns the other
end of the socket. gRPC is not proxied: workers and clients still reach
every manager directly.

Isolating a manager cuts its proxied connections and refuses new ones in
both directions until ``heal``; pysyncobj reconnects on its own afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from titan_ha.config import ManagerSpec, parse_address
from titan_ha.local_cluster import free_ports

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CHUNK_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 2.0
ACCEPT_POLL_S = 0.2


@dataclass(frozen=True)
class ProxyStatistics:
    """Counters since start; ``isolated`` is the partition now in force."""

    isolated: tuple[str, ...]
    open_links: int
    forwarded: int
    refused: int
    cut: int
    unidentified: int


class _Link:
    """One proxied connection: initiator -> proxy -> target's real Raft port."""

    def __init__(self, initiator: str | None, target: str, down: socket.socket) -> None:
        self.initiator = initiator
        self.target = target
        self.down = down  # accepted from the initiator
        self.up: socket.socket | None = None  # to the target's raft_bind

    def involves(self, isolated: set[str]) -> bool:
        # An initiator nobody could name may be an isolated manager: with a
        # partition in force it is treated as one, so no partition leaks.
        if not isolated:
            return False
        return self.initiator is None or bool({self.initiator, self.target} & isolated)

    def cut(self) -> None:
        """Wakes both pumps; the handler thread closes the sockets."""
        for sock in (self.down, self.up):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for sock in (self.down, self.up):
            if sock is not None:
                sock.close()


class ProxyNetwork:
    """Managers on loopback, their Raft links through cuttable proxies.

    Args:
        manager_ids: the managers, in config order.
        pid_of: the pid of a manager's process, None while it is not running;
            how the proxy tells which manager dialled a connection.
    """

    mode = "proxy"

    def __init__(
        self, manager_ids: list[str], pid_of: Callable[[str], int | None]
    ) -> None:
        self._pid_of = pid_of
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._isolated: set[str] = set()
        self._links: set[_Link] = set()
        self._counts = dict.fromkeys(("forwarded", "refused", "cut", "unidentified"), 0)
        self._thread: threading.Thread | None = None
        # Bound now, so that nothing else takes the announced ports before start.
        self._listeners: dict[str, socket.socket] = {}
        for manager_id in manager_ids:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((HOST, 0))
            self._listeners[manager_id] = listener
        ports = iter(free_ports(3 * len(manager_ids)))
        self._specs = [
            ManagerSpec(
                manager_id,
                grpc=f"{HOST}:{next(ports)}",
                raft=f"{HOST}:{listener.getsockname()[1]}",
                dashboard=f"{HOST}:{next(ports)}",
                raft_bind=f"{HOST}:{next(ports)}",
            )
            for manager_id, listener in self._listeners.items()
        ]
        self._targets = {s.id: parse_address(s.raft_bind) for s in self._specs}

    def manager_specs(self) -> list[ManagerSpec]:
        return list(self._specs)

    def prefix(self, name: str) -> list[str]:
        return []

    def start(self) -> None:
        """Starts accepting on every proxy port, in one daemon thread."""
        if self._thread is not None or self._stop.is_set():
            return
        for listener in self._listeners.values():
            listener.listen(16)
            listener.setblocking(False)
        self._thread = threading.Thread(
            target=self._accept_loop, name="raft-proxy", daemon=True
        )
        self._thread.start()
        logger.info(
            "raft proxies ready managers=%s",
            ",".join(f"{s.id}={s.raft}->{s.raft_bind}" for s in self._specs),
        )

    def isolate(self, manager_id: str) -> None:
        """Cuts all Raft traffic between ``manager_id`` and the other managers."""
        if manager_id not in self._targets:
            raise ValueError(f"no manager {manager_id!r} behind the proxy")
        with self._lock:
            self._isolated.add(manager_id)
            doomed = [link for link in self._links if link.involves(self._isolated)]
            self._counts["cut"] += len(doomed)
        for link in doomed:
            link.cut()
        logger.info("raft partition isolated=%s links_cut=%d", manager_id, len(doomed))

    def heal(self) -> None:
        """Lifts the partition; pysyncobj dials the cut links again by itself."""
        with self._lock:
            healed, self._isolated = self._isolated, set()
        if healed:
            logger.info("raft partition healed isolated=%s", ",".join(sorted(healed)))

    def close(self) -> None:
        """Stops accepting and cuts every link; safe to call more than once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for listener in self._listeners.values():
            listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.cut()

    def statistics(self) -> ProxyStatistics:
        with self._lock:
            return ProxyStatistics(
                isolated=tuple(sorted(self._isolated)),
                open_links=len(self._links),
                **self._counts,
            )

    # The proxy threads -----------------------------------------------------------
    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            for manager_id, listener in self._listeners.items():
                selector.register(listener, selectors.EVENT_READ, manager_id)
            while not self._stop.is_set():
                for key, _ in selector.select(ACCEPT_POLL_S):
                    target: str = key.data
                    try:
                        down, _ = self._listeners[target].accept()
                    except OSError:
                        continue
                    down.setblocking(True)
                    threading.Thread(
                        target=self._handle,
                        args=(down, target),
                        name=f"raft-proxy-{target}",
                        daemon=True,
                    ).start()

    def _handle(self, down: socket.socket, target: str) -> None:
        """Identifies, connects and pumps one accepted connection until cut."""
        link = _Link(None, target, down)
        if not self._admit(link, identify=False):
            return
        # An initiator that hung up already stays unnamed: the pumps see it go.
        with contextlib.suppress(OSError):
            link.initiator = self._initiator(down.getpeername())
        if not self._admit(link, identify=True):
            return
        try:
            link.up = socket.create_connection(
                self._targets[target], timeout=CONNECT_TIMEOUT_S
            )
        except OSError as exc:
            # The target is down: the initiator sees a closed connection and
            # dials again after its retry time.
            logger.debug("raft target unreachable target=%s error=%s", target, exc)
            link.close()
            return
        link.up.settimeout(None)
        for sock in (down, link.up):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            registered = not self._stop.is_set() and not link.involves(self._isolated)
            if registered:
                self._links.add(link)
                self._counts["forwarded"] += 1
            else:
                self._counts["refused"] += 1
        if not registered:
            link.close()
            return
        logger.debug("raft link open initiator=%s target=%s", link.initiator, target)
        back = threading.Thread(
            target=_pump,
            args=(link.up, down, link),
            name="raft-proxy-pump",
            daemon=True,
        )
        back.start()
        _pump(down, link.up, link)
        back.join()
        with self._lock:
            self._links.discard(link)
        link.close()

    def _admit(self, link: _Link, identify: bool) -> bool:
        """False (and the socket closed) when the partition forbids ``link``."""
        with self._lock:
            isolated = set(self._isolated)
            if self._stop.is_set():
                refused = True
            elif not identify:
                refused = link.target in isolated
            else:
                refused = link.involves(isolated)
            if refused:
                self._counts["refused"] += 1
                if identify and link.initiator is None and isolated:
                    self._counts["unidentified"] += 1
        if refused and identify and link.initiator is None and isolated:
            logger.warning(
                "raft connection from an unidentified process refused target=%s",
                link.target,
            )
        elif refused:
            logger.debug(
                "raft connection refused initiator=%s target=%s",
                link.initiator,
                link.target,
            )
        if refused:
            link.close()
        return not refused

    def _initiator(self, peer: tuple[str, int]) -> str | None:
        """The manager whose process owns the socket at ``peer``, if any."""
        for manager_id in self._targets:
            pid = self._pid_of(manager_id)
            if pid is None:
                continue
            try:
                connections = psutil.Process(pid).net_connections(kind="tcp")
            except psutil.Error:
                continue
            if any(c.laddr and (c.laddr.ip, c.laddr.port) == peer for c in connections):
                return manager_id
        return None


def _pump(source: socket.socket, sink: socket.socket, link: _Link) -> None:
    """Copies ``source`` to ``sink`` until either end closes, then cuts ``link``."""
    try:
        while data := source.recv(CHUNK_BYTES):
            sink.sendall(data)
    except OSError:
        pass
    link.cut()
