"""Log set-up for the long-running processes (manager, worker).

Only entry points call ``configure``; modules just use
``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import json
import logging
import sys


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(
    log_format: str = "text", level: int = logging.INFO, name: str = ""
) -> None:
    """Sends every log line to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        prefix = f"{name} " if name else ""
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pysyncobj logs every connection attempt to a dead peer at WARNING.
    logging.getLogger("pysyncobj").setLevel(logging.ERROR)
