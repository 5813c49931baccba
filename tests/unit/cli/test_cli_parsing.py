"""CLI argument handling that needs no cluster."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from titan_ha.cli.submission import parse_memory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64m", 64 * 1024**2),
        ("1g", 1024**3),
        ("512k", 512 * 1024),
        ("100", 100),
        ("64MiB", 64 * 1024**2),
        (None, 0),
    ],
)
def test_memory_sizes(text: str | None, expected: int) -> None:
    assert parse_memory(text) == expected


def test_bad_memory_size_is_a_usage_error() -> None:
    with pytest.raises(click.BadParameter, match="not a size"):
        parse_memory("lots")


def run_titan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "titan_ha.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_bad_endpoint_list_exits_2_with_one_line() -> None:
    result = run_titan("--managers", "nonsense", "status")
    assert result.returncode == 2
    assert result.stderr == "error: invalid address 'nonsense': expected HOST:PORT\n"


def test_unknown_command_exits_2() -> None:
    result = run_titan("frobnicate")
    assert result.returncode == 2
    assert (
        result.stderr == "error: No such command 'frobnicate'. (see 'titan --help')\n"
    )
