"""Startup checks: the Raft port checked is the one the replica binds."""

from __future__ import annotations

import socket

import pytest

from titan_ha.config import ManagerSpec
from titan_ha.errors import ConfigError
from titan_ha.local_cluster import free_ports
from titan_ha.manager.startup import check_ports


def test_the_bind_address_is_checked_not_the_announced_one() -> None:
    grpc_port, bind_port = free_ports(2)
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        announced = f"127.0.0.1:{proxy.getsockname()[1]}"
        spec = ManagerSpec(
            "m1", f"127.0.0.1:{grpc_port}", announced, "", f"127.0.0.1:{bind_port}"
        )
        check_ports(spec)  # a proxy holding the announced port is expected
        with pytest.raises(ConfigError, match=f"raft address {announced} is in use"):
            check_ports(ManagerSpec("m1", spec.grpc, announced))
