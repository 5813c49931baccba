"""What a worker tells when the leader had declared it dead.

A leader reaps only after ``dead_after_s`` without hearing from the worker,
counted from its takeover at the earliest. The last pulse it answered may
have reached it while the reap was being committed, but the one before
cannot have: the epoch that reaped us answering both, sooner than
``dead_after_s`` before the rejoining answer, or leading for less than
that, reaped a worker it had no reason to. The worker logs the facts; the
judging is left to whoever reads them (jepsen_like's worker-lost checker).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque

from titan_ha._proto import titan_pb2 as pb

logger = logging.getLogger(__name__)


class PulseAnswers:
    """The epoch and send time of the last two Pulses a leader answered."""

    def __init__(self) -> None:
        self._answers: deque[tuple[int, float]] = deque(maxlen=2)

    def record(self, reply: pb.PulseReply, sent: float) -> None:
        """Notes one answer to a Pulse sent at ``sent`` (monotonic)."""
        if reply.rejoined:
            self._log_rejoin(reply)
        self._answers.append((reply.epoch, sent))

    def _log_rejoin(self, reply: pb.PulseReply) -> None:
        epochs = ",".join(str(e) for e, _ in self._answers) or "-"
        earlier = self._answers[0][1] if len(self._answers) == 2 else math.nan
        logger.warning(
            "declared dead by the leader, joined again epoch=%d "
            "reaped_by_epoch=%d leader_for_s=%.3f last_answer_epochs=%s "
            "since_answer_before_last_s=%.3f",
            reply.epoch,
            reply.reaped_by_epoch,
            reply.leader_for_s,
            epochs,
            time.monotonic() - earlier,
        )
