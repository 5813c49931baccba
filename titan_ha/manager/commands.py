"""Shapes shared by the state machine's handlers and the code that proposes."""

from __future__ import annotations

import math
from typing import Any

Command = dict[str, Any]
Result = dict[str, Any]

# Output travels through Raft in chunks of at most this many characters, so
# that no log entry comes near pysyncobj's 64 KiB chunked-entry path even when
# every character takes four bytes of UTF-8.
OUTPUT_CHUNK_CHARS = 8 * 1024


def reject(reason: str, **details: Any) -> Result:
    """The result of a command that changed nothing."""
    return {"ok": False, "reason": reason, **details}


class Malformed(Exception):
    """Raised by a handler, before it changes anything, for a missing field."""


def number(cmd: Command, key: str, default: float | None = None) -> float:
    """A finite number field; raises Malformed when missing or not one."""
    value = cmd.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{key} must be a number")
    if not math.isfinite(value):
        raise Malformed(f"{key} must be finite")
    return float(value)


def epoch_of(cmd: Command) -> int:
    """The epoch a command carries, as fencing compares it; -1 when it has none."""
    value = cmd.get("epoch")
    if isinstance(value, int | float) and math.isfinite(value) and value == int(value):
        return int(value)
    return -1


def text(cmd: Command, key: str) -> str:
    """A string field, or "" when it is missing or not a string."""
    value = cmd.get(key)
    return value if isinstance(value, str) else ""
