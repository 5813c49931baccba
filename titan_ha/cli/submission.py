"""What ``titan submit`` checks before it sends, and says when it cannot tell."""

from __future__ import annotations

import math

import click

from titan_ha.errors import CommitUncertain
from titan_ha.models import AUTO_KEY_PREFIX, MAX_COMMAND_BYTES

MAX_MEMORY_BYTES = 1024**4
MAX_TIMEOUT_S = 365 * 24 * 3600.0
MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def check_submission(command: str, timeout_s: float, key: str | None) -> None:
    """Refuses, as usage errors, submissions the cluster would refuse."""
    if not command.strip():
        raise click.BadParameter("must not be empty", param_hint="--command")
    size = len(command.encode())
    if size > MAX_COMMAND_BYTES:
        raise click.BadParameter(
            f"is {size} bytes; at most {MAX_COMMAND_BYTES} (use a script)",
            param_hint="--command",
        )
    if not math.isfinite(timeout_s):
        raise click.BadParameter("must be a finite number", param_hint="--timeout")
    if key is not None and (not key or key.startswith(AUTO_KEY_PREFIX)):
        raise click.BadParameter(
            f"must be non-empty and not start with {AUTO_KEY_PREFIX!r}",
            param_hint="--idempotency-key",
        )


def parse_memory(text: str | None) -> int:
    if not text:
        return 0
    number, unit = text.strip().lower().rstrip("ib"), ""
    if number and number[-1] in MEMORY_UNITS:
        number, unit = number[:-1], number[-1]
    if not number.isdigit():
        raise click.BadParameter(
            f"{text!r} is not a size like 64m or 1g", param_hint="--memory"
        )
    size = int(number) * MEMORY_UNITS[unit]
    if size > MAX_MEMORY_BYTES:
        raise click.BadParameter(f"{text!r} is over 1 TiB", param_hint="--memory")
    return size


def uncertain_submit(error: CommitUncertain, key: str | None) -> CommitUncertain:
    """The error to show for a submit whose outcome is unknown: how to learn it."""
    advice = (
        f"submit again with --idempotency-key {key} to learn it"
        if key
        else "look at 'titan tasks' before submitting again "
        "(--idempotency-key makes a retry safe)"
    )
    return CommitUncertain(f"submit {error}; {advice}")
