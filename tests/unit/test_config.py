"""Cluster configuration parsing and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from titan_ha.config import (
    ClusterConfig,
    Environment,
    ManagerSpec,
    parse_address,
    parse_endpoints,
)
from titan_ha.errors import ConfigError
from titan_ha.local_cluster import write_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_has_three_managers() -> None:
    config = ClusterConfig.from_toml(ROOT / "configs" / "ha-local.toml")
    assert [m.id for m in config.managers] == ["m1", "m2", "m3"]
    assert [m.grpc for m in config.managers] == [
        "127.0.0.1:50051",
        "127.0.0.1:50052",
        "127.0.0.1:50053",
    ]
    assert config.dead_after_s == 6.0
    assert config.effective_lease_s == 4.0


def test_default_is_a_single_replica_on_50051() -> None:
    config = ClusterConfig().validate()
    assert [(m.id, m.grpc) for m in config.managers] == [("m1", "127.0.0.1:50051")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cluster]\nbogus = 1\n", "unknown [cluster] keys: bogus"),
        ("[[managers]]\nid = 'm1'\ngrpc = '127.0.0.1:1'\n", "lacks 'raft'"),
        (
            "[cluster]\ndead_after_s = 1.0\npulse_interval_s = 1.0\n",
            "dead_after_s must exceed two pulse intervals",
        ),
        ("[[managers]]\nid='a'\ngrpc='x'\nraft='127.0.0.1:2'\n", "invalid address 'x'"),
        ("not toml ]", "cannot read config"),
    ],
)
def test_invalid_configs_say_why(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        ClusterConfig.from_toml(path)
    assert message in str(caught.value)


def test_duplicate_manager_ids_are_refused(tmp_path: Path) -> None:
    entry = "[[managers]]\nid='m1'\ngrpc='127.0.0.1:1'\nraft='127.0.0.1:2'\n"
    path = tmp_path / "c.toml"
    path.write_text(entry + entry)
    with pytest.raises(ConfigError, match="manager ids must be unique"):
        ClusterConfig.from_toml(path)


def test_endpoints_and_addresses() -> None:
    assert parse_endpoints(" a:1, b:2 ,") == ("a:1", "b:2")
    assert parse_address("127.0.0.1:50051") == ("127.0.0.1", 50051)
    with pytest.raises(ConfigError, match="empty"):
        parse_endpoints(" , ")
    with pytest.raises(ConfigError, match="invalid port"):
        parse_address("h:70000")


def test_environment_is_read_from_the_mapping() -> None:
    env = Environment.read({"TITAN_MANAGERS": "h:1", "TITAN_TOKEN": "t"})
    assert (env.managers, env.token, env.tls_ca) == ("h:1", "t", None)


def test_raft_bind_is_read_and_optional(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[[managers]]\nid='m1'\ngrpc='127.0.0.1:1'\nraft='127.0.0.1:2'\n"
        "raft_bind='127.0.0.1:3'\n"
        "[[managers]]\nid='m2'\ngrpc='127.0.0.1:4'\nraft='127.0.0.1:5'\n"
    )
    m1, m2 = ClusterConfig.from_toml(path).managers
    assert (m1.raft, m1.raft_bind, m1.raft_listen) == (
        "127.0.0.1:2",
        "127.0.0.1:3",
        "127.0.0.1:3",
    )
    assert (m2.raft, m2.raft_bind, m2.raft_listen) == ("127.0.0.1:5", "", "127.0.0.1:5")


def test_a_bad_raft_bind_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[[managers]]\nid='m1'\ngrpc='127.0.0.1:1'\nraft='127.0.0.1:2'\n"
        "raft_bind='nowhere'\n"
    )
    with pytest.raises(ConfigError) as caught:
        ClusterConfig.from_toml(path)
    assert str(caught.value) == "invalid address 'nowhere': expected HOST:PORT"


def test_write_config_keeps_raft_bind(tmp_path: Path) -> None:
    spec = ManagerSpec("m1", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4")
    config = write_config(tmp_path / "c.toml", 1, keep=(spec,), secret="s")
    assert config.managers[0] == spec
    assert config.managers[1].raft_bind == ""
