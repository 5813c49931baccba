"""Runs the dashboard app under uvicorn in a daemon thread of the manager."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from titan_ha.api.client import Client
from titan_ha.dashboard.app import create_app
from titan_ha.errors import ConfigError

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0


class _ThreadServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the manager."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn already skips this outside the main thread; overriding makes
        # that independent of the thread and of uvicorn's version.
        yield


def _listen(address: str) -> socket.socket:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"dashboard address {address!r} is not HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"dashboard cannot listen on {address}: {exc}") from None
    return sock


class DashboardServer:
    """A running dashboard; ``stop()`` ends it.

    Args:
        address: ``HOST:PORT`` to serve on.
        client: the client the app reads through; closed by ``stop()``.
        token: the bearer token the HTTP API requires, if any.
    """

    def __init__(self, address: str, client: Client, token: str | None) -> None:
        self.address = address
        self._client = client
        self._app = create_app(client, token)
        self._socket = _listen(address)
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            log_config=None,  # the manager's entry point configures logging
            access_log=False,
            lifespan="off",
            http="h11",
            loop="asyncio",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = _ThreadServer(config)
        self._thread = threading.Thread(
            target=self._run, name=f"dashboard-{address}", daemon=True
        )

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException:
            # uvicorn exits through SystemExit when it cannot start; the
            # manager goes on without its dashboard.
            logger.exception("dashboard stopped unexpectedly address=%s", self.address)

    def start(self) -> None:
        """Starts serving; returns once the address accepts connections.

        Raises:
            ConfigError: the server did not come up in time.
        """
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"dashboard did not start on {self.address}")
            time.sleep(0.01)
        logger.info("dashboard serving address=%s", self.address)

    def stop(self) -> None:
        """Ends open event streams, stops the server and closes the client."""
        self._app.state.stopping.set()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)
        self._socket.close()
        self._client.close()
        logger.info("dashboard stopped address=%s", self.address)


def serve_in_thread(
    address: str, grpc_endpoint: str, token: str | None
) -> DashboardServer:
    """Serves this replica's dashboard on ``address`` from a daemon thread.

    Args:
        address: ``HOST:PORT`` of the dashboard.
        grpc_endpoint: this replica's own gRPC address; all reads go there.
        token: the API token: sent to the manager and required from browsers.

    Returns:
        The running server.

    Raises:
        ConfigError: the address is malformed, taken, or the server did not
            start.
    """
    client = Client([grpc_endpoint], token=token)
    try:
        server = DashboardServer(address, client, token)
    except BaseException:
        client.close()
        raise
    server.start()
    return server
