"""Checks a replica makes before it joins: one process per identity.

A second process started with the same id must stop at once, before it
touches the journal or steals half of the clients: it takes an exclusive
lock on its data directory and checks that its Raft and gRPC addresses are
free.
"""

from __future__ import annotations

import fcntl
import os
import socket
from typing import IO

from titan_ha.config import ManagerSpec, parse_address
from titan_ha.errors import ConfigError


def claim_data_dir(path: str) -> IO[str]:
    """Locks ``path`` for this process; the lock lasts as long as the file.

    Raises:
        ConfigError: another live process holds it.
    """
    os.makedirs(path, exist_ok=True)
    lock = open(os.path.join(path, "manager.lock"), "a+")  # noqa: SIM115 - kept open
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ConfigError(f"{path} is in use by another running manager") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def check_free(address: str, what: str) -> None:
    """Raises ConfigError when nothing can listen on ``address`` now."""
    host, port = parse_address(address)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"{what} address {address} is in use ({exc.strerror})"
            ) from None


def check_ports(spec: ManagerSpec) -> None:
    """Raises ConfigError when the replica's Raft or gRPC address is taken.

    The Raft check is on the address the replica binds, which is not the one
    its peers dial when a proxy sits in between.
    """
    check_free(spec.raft_listen, "raft")
    check_free(spec.grpc, "grpc")
