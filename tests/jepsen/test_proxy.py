"""The Raft proxy on plain sockets: it forwards, cuts and refuses by initiator.

This test process plays manager "a" (its own pid); echo servers stand in for
the managers' real Raft ports.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from jepsen_like.proxy import ProxyNetwork
from titan_ha.config import parse_address

IDS = ["a", "b", "c"]


class EchoServer:
    """Echoes every connection back on ``address`` until closed."""

    def __init__(self, address: str) -> None:
        self._listener = socket.create_server(parse_address(address))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._listener.accept()
                threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()


def proxy_and_echoes(pids: dict[str, int]) -> tuple[ProxyNetwork, list[EchoServer]]:
    network = ProxyNetwork(IDS, pids.get)
    echoes = [EchoServer(spec.raft_bind) for spec in network.manager_specs()]
    network.start()
    return network, echoes


@pytest.fixture
def network() -> Iterator[ProxyNetwork]:
    network, echoes = proxy_and_echoes({"a": os.getpid()})
    yield network
    network.close()
    for echo in echoes:
        echo.close()


def dial(network: ProxyNetwork, target: str) -> socket.socket:
    spec = {s.id: s for s in network.manager_specs()}[target]
    return socket.create_connection(parse_address(spec.raft), timeout=5.0)


def forwards(sock: socket.socket) -> bool:
    """True when an echo comes back; False when the proxy closed the socket."""
    try:
        sock.sendall(b"ping")
        return sock.recv(4) == b"ping"
    except OSError:
        return False


def closed(sock: socket.socket) -> bool:
    """True when the proxy closed ``sock`` (which is closed here either way)."""
    with sock:
        try:
            return sock.recv(1) == b""
        except ConnectionResetError:
            return True


def test_specs_announce_the_proxy_and_bind_elsewhere(network: ProxyNetwork) -> None:
    specs = network.manager_specs()
    assert [s.id for s in specs] == IDS
    addresses = [a for s in specs for a in (s.grpc, s.raft, s.raft_bind, s.dashboard)]
    assert all(a.startswith("127.0.0.1:") for a in addresses)
    assert len(set(addresses)) == 12
    assert network.prefix("a") == []
    assert network.mode == "proxy"


def test_isolation_cuts_links_both_ways_until_healed(network: ProxyNetwork) -> None:
    a_to_b = dial(network, "b")
    assert forwards(a_to_b)

    network.isolate("a")
    assert closed(a_to_b)
    assert closed(dial(network, "b"))  # a dialling out
    assert closed(dial(network, "a"))  # anyone dialling a
    stats = network.statistics()
    assert (stats.isolated, stats.cut, stats.refused) == (("a",), 1, 2)

    network.heal()
    with dial(network, "b") as again:
        assert forwards(again)
    assert network.statistics().isolated == ()


def test_unidentified_initiators_pass_only_without_a_partition() -> None:
    network, echoes = proxy_and_echoes({})  # nobody can be named
    try:
        with dial(network, "b") as before:
            assert forwards(before)
            network.isolate("c")
            assert closed(before)
        assert closed(dial(network, "b"))
        assert network.statistics().unidentified == 1
    finally:
        network.close()
        network.close()
        for echo in echoes:
            echo.close()
