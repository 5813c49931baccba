"""Reaper false positives: attempts lost although nothing was broken.

An attempt ends WORKER_LOST when the reaper declares its worker dead, when
the worker comes back as a new incarnation, or when the worker stops it
itself because its lease ran out. Each is legitimate only when a fault
could have caused it:

* a fault on *that* worker (killed or paused) during the reaper threshold
  before the loss: the reaper needs that much silence, and a restarted
  worker re-registers as soon as its fault is healed; a pause that ended
  long before the loss explains nothing, however long the attempt ran;
* a fault on the managers (leader killed, paused or cut off, every manager
  restarted) during the reaper threshold before the loss: no leader
  renewed the worker's lease for a while. A new leader gives every worker
  a full threshold from its takeover, and a worker finds it within a
  pulse of the heal, so a leader fault long over explains nothing either,
  however long the attempt ran.

A fault on another worker explains nothing. A WORKER_LOST attempt without
an explanation is a false positive: a healthy worker lost its work, and
the task spent one of its MAX_WORKER_LOST lives for nothing.

The workers are asked too. A worker the leader declared dead learns it on
its next pulse and logs what that answer says (the epoch answering, the
epoch that reaped it, how long the answering leader has led) with what it
knows itself (the epochs of the last two pulses answered before, and the
time since the earlier of them was sent). A leader reaps only after
``dead_after_s`` without hearing from the worker, counted from its own
takeover at the earliest; the last answer may have raced with the reap's
commit, the one before cannot have. So a rejoin is a false positive,
whatever faults were about, when the epoch that reaped the worker:

* answered both pulses and rejoined it sooner than ``dead_after_s`` after
  the earlier was sent: it reaped a worker that was talking to it; or
* rejoined it having led for less than ``dead_after_s``: it reaped without
  a threshold of silence of its own (stale clocks from an earlier reign).
"""

from __future__ import annotations

import re
from typing import Any

from jepsen_like.checkers.base import CheckResult, RunData, overlaps

MARGIN_S = 1.0
MANAGER_FAULTS = frozenset(
    {"kill-leader", "pause-leader", "partition-leader", "restart-all"}
)
# Time the answering leader's clock and ours may differ by (both monotonic
# on one machine; this covers rounding and the takeover's own steps).
CLOCK_SLACK_S = 0.05
REJOIN = re.compile(
    r"^(?P<logged>\S+ \S+) (?P<worker>\S+) WARNING .*declared dead by the "
    r"leader, joined again epoch=(?P<epoch>-?\d+) "
    r"reaped_by_epoch=(?P<reaper>-?\d+) leader_for_s=(?P<leading>\S+) "
    r"last_answer_epochs=(?P<answers>\S+) since_answer_before_last_s=(?P<since>\S+)"
)


def check_worker_lost(data: RunData) -> CheckResult:
    result = CheckResult("worker-lost", True)
    dead_after_s = float(data.meta["config"]["dead_after_s"])
    rejoins = worker_rejoins(data)
    too_soon = [r for r in rejoins if _hasty(r, dead_after_s - CLOCK_SLACK_S)]
    for rejoin in too_soon:
        result.example(rejoin)
    counts = _explain_losses(data, dead_after_s, result)
    result.counts = {
        **counts,
        "rejoins": len(rejoins),
        "rejoins_too_soon": len(too_soon),
    }
    result.valid = counts["unexplained"] == 0 and not too_soon
    return result


def _explain_losses(
    data: RunData, dead_after_s: float, result: CheckResult
) -> dict[str, int]:
    """Counts WORKER_LOST attempts by what explains them; examples the rest."""
    windows = data.fault_windows()
    managers = [
        (start, end) for start, end, kind, _ in windows if kind in MANAGER_FAULTS
    ]
    counts = {
        "worker_lost": 0,
        "by_worker_fault": 0,
        "by_manager_fault": 0,
        "unexplained": 0,
    }
    for task in data.final.tasks.values():
        for attempt in task["attempts"]:
            if attempt["outcome"] != "WORKER_LOST":
                continue
            counts["worker_lost"] += 1
            started = data.wall_to_run(attempt["started_at"]) or 0.0
            finished = data.wall_to_run(attempt["finished_at"]) or data.end_t
            silent = (finished - dead_after_s - MARGIN_S, finished + MARGIN_S)
            own = [
                (start, end)
                for start, end, kind, target in windows
                if target == attempt["worker_id"] and kind not in MANAGER_FAULTS
            ]
            if overlaps(silent, own):
                counts["by_worker_fault"] += 1
            elif overlaps(silent, managers):
                counts["by_manager_fault"] += 1
            else:
                counts["unexplained"] += 1
                result.example(
                    {
                        "task_id": task["id"],
                        "attempt": attempt["number"],
                        "worker_id": attempt["worker_id"],
                        "started_t": round(started, 3),
                        "finished_t": round(finished, 3),
                    }
                )
    return counts


def _hasty(rejoin: dict[str, Any], threshold_s: float) -> bool:
    """True if the rejoin proves the reaping epoch had heard from the worker."""
    reaper = rejoin["reaped_by_epoch"]
    if reaper != rejoin["epoch"]:
        return False  # an earlier leader reaped it: its clocks are unknown
    talked = (
        rejoin["last_answer_epochs"] == [reaper] * 2
        and rejoin["since_answer_before_last_s"] < threshold_s
    )
    young = float(rejoin["leader_for_s"]) < threshold_s
    return talked or young


def worker_rejoins(data: RunData) -> list[dict[str, Any]]:
    """What the workers' logs say about each time a leader rejoined them."""
    found = []
    for path in sorted((data.out / "state" / "logs").glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                match = REJOIN.match(line)
                if match is None:
                    continue
                found.append(
                    {
                        "worker_id": match["worker"],
                        "logged_at": match["logged"],
                        "epoch": int(match["epoch"]),
                        "reaped_by_epoch": int(match["reaper"]),
                        "leader_for_s": float(match["leading"]),
                        "last_answer_epochs": [
                            int(e) for e in match["answers"].split(",") if e != "-"
                        ],
                        "since_answer_before_last_s": float(match["since"]),
                    }
                )
    return found
