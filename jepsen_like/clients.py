"""Client threads: submit and read through ``titan_ha.api``, record everything.

Each thread owns one ``Client`` (its own leader cache and channels) and one
``Generator``. Errors are classified at this single boundary: a refusal the
manager answered with is ``fail``; everything that leaves the outcome open
(no leader, unreachable, commit uncertain, a timeout) is ``info``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from jepsen_like.history import FAIL, INFO, OK, History
from jepsen_like.workload import Generator
from titan_ha.api.client import Client
from titan_ha.errors import InvalidRequest, TaskNotFound, TitanError, Unauthenticated

logger = logging.getLogger(__name__)

SUBMIT_DEADLINE_S = 5.0
READ_DEADLINE_S = 3.0
# Refusals that prove the request changed nothing.
DEFINITE_ERRORS = (InvalidRequest, Unauthenticated)


class ClientThread:
    """One client process of the history, on its own thread."""

    def __init__(
        self,
        process: int,
        endpoints: list[str],
        generator: Generator,
        history: History,
        witness_path: Path,
        mean_gap_s: float,
        stop: threading.Event,
    ) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"client-{process}", daemon=True
        )
        self.process = process
        self._client = Client(endpoints)
        self._generator = generator
        self._history = history
        self._witness_path = witness_path
        self._mean_gap_s = mean_gap_s
        self._halt = stop
        self.acked: dict[str, str] = {}  # nonce -> task id

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def _run(self) -> None:
        rng = self._generator.rng
        try:
            while not self._halt.wait(rng.uniform(0.2, 1.8) * self._mean_gap_s):
                if self._generator.next_op() == "submit":
                    self._submit()
                else:
                    self._read()
        finally:
            self._client.close()

    def _submit(self) -> None:
        plan, reuse = self._generator.next_submit()
        value = {"plan": plan.to_json(), "key": plan.key, "reuse": reuse}
        self._history.invoke(self.process, "submit", value)
        try:
            task_id, existed = self._client.submit(
                plan.spec(self._witness_path),
                idempotency_key=plan.key,
                deadline_s=SUBMIT_DEADLINE_S,
            )
        except DEFINITE_ERRORS as exc:
            self._history.complete(self.process, "submit", FAIL, _error(exc))
            return
        except TitanError as exc:
            # The submit may have committed before the answer was lost.
            self._history.complete(self.process, "submit", INFO, _error(exc))
            return
        except Exception as exc:
            logger.warning("submit raised unexpectedly error=%r", exc)
            self._history.complete(self.process, "submit", INFO, _error(exc))
            return
        self.acked[plan.nonce] = task_id
        result = {"task_id": task_id, "existed": existed}
        self._history.complete(self.process, "submit", OK, result)

    def _read(self) -> None:
        plan = self._generator.read_target()
        task_id = self.acked.get(plan.nonce)
        if task_id is None:
            return  # never acknowledged to us: nothing to read by id
        self._history.invoke(self.process, "read", {"task_id": task_id})
        try:
            task = self._client.get(task_id, deadline_s=READ_DEADLINE_S)
        except TaskNotFound:
            result: dict[str, Any] = {"task_id": task_id, "found": False}
            self._history.complete(self.process, "read", OK, result)
            return
        except TitanError as exc:
            # A read changes nothing, but its answer is unknown.
            self._history.complete(self.process, "read", INFO, _error(exc))
            return
        except Exception as exc:
            logger.warning("read raised unexpectedly error=%r", exc)
            self._history.complete(self.process, "read", INFO, _error(exc))
            return
        result = {
            "task_id": task_id,
            "found": True,
            "state": task.state,
            "attempts": len(task.attempts),
            "ended": sum(1 for a in task.attempts if a.outcome),
        }
        self._history.complete(self.process, "read", OK, result)


def _error(exc: BaseException) -> dict[str, Any]:
    return {"error": f"{type(exc).__name__}: {exc}"}
