"""Shapes shared by the state machine's handlers and the code that proposes."""

from __future__ import annotations

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
