"""Cluster configuration: one frozen value read from TOML, flags and defaults.

Environment variables are read here and nowhere else.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from titan_ha.errors import ConfigError

DEFAULT_GRPC = "127.0.0.1:50051"
DEFAULT_DASHBOARD = "127.0.0.1:8080"
DEFAULT_RAFT = "127.0.0.1:7001"


def parse_address(address: str) -> tuple[str, int]:
    """Splits ``host:port``; raises ConfigError when it is not one."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ConfigError(f"invalid address {address!r}: expected HOST:PORT")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ConfigError(f"invalid port in {address!r}")
    return host, port


def parse_endpoints(text: str) -> tuple[str, ...]:
    """Parses a comma-separated ``H:P,H:P`` list, validating each entry."""
    endpoints = tuple(part.strip() for part in text.split(",") if part.strip())
    if not endpoints:
        raise ConfigError("the manager endpoint list is empty")
    for endpoint in endpoints:
        parse_address(endpoint)
    return endpoints


@dataclass(frozen=True)
class ManagerSpec:
    """Addresses of one manager replica.

    ``raft`` is the address peers connect to; ``raft_bind``, when set, is
    where the replica listens instead (e.g. behind a proxy that owns ``raft``).
    """

    id: str
    grpc: str
    raft: str
    dashboard: str = ""
    raft_bind: str = ""

    @property
    def raft_listen(self) -> str:
        """The address this replica's Raft server binds."""
        return self.raft_bind or self.raft

    def validate(self) -> None:
        if not self.id:
            raise ConfigError("a manager needs an id")
        parse_address(self.grpc)
        parse_address(self.raft)
        if self.dashboard:
            parse_address(self.dashboard)
        if self.raft_bind:
            parse_address(self.raft_bind)


@dataclass(frozen=True)
class ClusterConfig:
    """Everything a manager replica needs to know about its cluster."""

    managers: tuple[ManagerSpec, ...] = (
        ManagerSpec("m1", DEFAULT_GRPC, DEFAULT_RAFT, DEFAULT_DASHBOARD),
    )
    secret: str = "titan-dev-secret"
    dead_after_s: float = 6.0
    pulse_interval_s: float = 1.0
    lease_s: float = 0.0  # 0: two thirds of dead_after_s
    retain_finished: int = 50_000  # finished tasks kept in the replicated state
    data_dir: str = ""
    api_token: str = ""
    pg_dsn: str = ""
    tls: bool = False
    log_format: str = "text"
    election_min_s: float = 0.3
    election_max_s: float = 0.7

    @property
    def effective_lease_s(self) -> float:
        """How long a worker keeps running an attempt without a leader."""
        return self.lease_s or self.dead_after_s * 2 / 3

    def manager(self, manager_id: str) -> ManagerSpec:
        for spec in self.managers:
            if spec.id == manager_id:
                return spec
        known = ", ".join(m.id for m in self.managers)
        raise ConfigError(f"no manager {manager_id!r} in the config (known: {known})")

    def with_overrides(self, **values: Any) -> ClusterConfig:
        """Returns a copy with the given non-None fields replaced."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def validate(self) -> ClusterConfig:
        if not self.managers:
            raise ConfigError("the config names no managers")
        ids = [m.id for m in self.managers]
        if len(set(ids)) != len(ids):
            raise ConfigError("manager ids must be unique")
        for spec in self.managers:
            spec.validate()
        if self.dead_after_s <= 0 or self.pulse_interval_s <= 0:
            raise ConfigError("dead_after_s and pulse_interval_s must be positive")
        if self.pulse_interval_s * 2 >= self.dead_after_s:
            raise ConfigError("dead_after_s must exceed two pulse intervals")
        if not 0 <= self.lease_s < self.dead_after_s:
            raise ConfigError("lease_s must be shorter than dead_after_s")
        if self.retain_finished < 0:
            raise ConfigError("retain_finished must be >= 0")
        if self.log_format not in ("text", "json"):
            raise ConfigError("log_format must be text or json")
        if not self.secret:
            raise ConfigError("the cluster secret must not be empty")
        return self

    @classmethod
    def from_toml(cls, path: str | Path) -> ClusterConfig:
        """Reads a cluster file (see configs/ha-local.toml)."""
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ClusterConfig:
        cluster = dict(data.get("cluster", {}))
        known = set(cls.__dataclass_fields__) - {"managers"}
        unknown = set(cluster) - known
        if unknown:
            raise ConfigError(f"unknown [cluster] keys: {', '.join(sorted(unknown))}")
        try:
            managers = tuple(
                ManagerSpec(
                    id=str(m["id"]),
                    grpc=str(m["grpc"]),
                    raft=str(m["raft"]),
                    dashboard=str(m.get("dashboard", "")),
                    raft_bind=str(m.get("raft_bind", "")),
                )
                for m in data.get("managers", [])
            )
        except KeyError as exc:
            raise ConfigError(f"a [[managers]] entry lacks {exc}") from exc
        values: dict[str, Any] = dict(cluster)
        if managers:
            values["managers"] = managers
        return cls(**values).validate()


# The faults TITAN_TEST_FAULTS may inject, each a deliberately broken build.
TEST_FAULTS = frozenset(
    {
        "no-idempotency",  # a reused key makes a second task
        "no-fencing",  # commands of a deposed epoch apply
        "slow-step-down",  # a deposed leader's services run a second longer
        "hasty-reaper",  # the reaper waits a tenth of dead_after_s
        "no-takeover-reset",  # a new leader keeps stale worker clocks
    }
)


@dataclass(frozen=True)
class Environment:
    """The TITAN_* environment variables that clients and workers honour."""

    managers: str | None
    token: str | None
    tls_ca: str | None
    tls_cert: str | None
    tls_key: str | None
    # Faults a test build injects on purpose (TEST_FAULTS): honoured by the
    # manager only so that jepsen_like can prove its checkers catch them.
    # Never set outside tests.
    test_faults: frozenset[str] = frozenset()

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if environ is None else environ
        return cls(
            managers=env.get("TITAN_MANAGERS"),
            token=env.get("TITAN_TOKEN"),
            tls_ca=env.get("TITAN_TLS_CA"),
            tls_cert=env.get("TITAN_TLS_CERT"),
            tls_key=env.get("TITAN_TLS_KEY"),
            test_faults=frozenset(
                f.strip()
                for f in env.get("TITAN_TEST_FAULTS", "").split(",")
                if f.strip()
            ),
        )
