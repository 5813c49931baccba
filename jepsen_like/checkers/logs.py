"""Process logs: what the managers and workers said went badly wrong.

Every manager and worker log of the run is scanned. A traceback makes the
run invalid: some process hit a bug. A CRITICAL line makes this checker
unknown rather than invalid: pysyncobj, for one, logs "state machine may
have diverged" whenever a follower truncates entries it already applied,
which is only a real divergence if the re-sent entries differ, and the API
offers no per-replica state digest to tell. ERROR lines are counted for a
person to read.
"""

from __future__ import annotations

import re

from jepsen_like.checkers.base import CheckResult, RunData

LEVEL = re.compile(r"\b(CRITICAL|ERROR)\b")


def check_process_logs(data: RunData) -> CheckResult:
    result = CheckResult("process-logs", True)
    counts = {"logs": 0, "critical": 0, "tracebacks": 0, "errors": 0}
    for path in sorted((data.out / "state" / "logs").glob("*.log")):
        counts["logs"] += 1
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith("Traceback"):
                    counts["tracebacks"] += 1
                    result.example({"log": path.name, "line": line.strip()[:300]})
                    continue
                match = LEVEL.search(line[:80])
                if match is None:
                    continue
                if match.group(1) == "CRITICAL":
                    counts["critical"] += 1
                    result.example({"log": path.name, "line": line.strip()[:300]})
                else:
                    counts["errors"] += 1
    result.counts = counts
    if counts["tracebacks"]:
        result.valid = False
    elif counts["critical"]:
        result.valid = None
        result.notes.append(
            "CRITICAL lines: a possible replica divergence the harness cannot rule "
            "out without a per-replica state digest"
        )
    return result
