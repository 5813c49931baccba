"""The workload: which tasks the clients submit, drawn from a seeded generator.

Each client has its own generator seeded from the run's seed and its index,
so a seed always yields the same sequence of operations and task plans.
Every task prints ``out NONCE ATTEMPT`` as its last line of stdout, and its
command is wrapped by ``witness.wrap``. The kinds:

* ``quick``: sleeps well under a second, succeeds.
* ``long``: sleeps a few seconds (long enough to be caught by faults).
* ``flaky``: exits 3 on attempts up to ``fail_times``, then succeeds; its
  retry budget is sometimes too small on purpose.
* ``timeout``: outlives its timeout with a TERM-ignoring background child
  that writes a ``late`` witness record if it survives the kill.
* ``big``: prints megabytes before its last line.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jepsen_like import witness
from titan_ha.api.views import TaskSpec

KINDS = ("quick", "long", "flaky", "timeout", "big")
WEIGHTS = (55, 17, 12, 8, 8)
# A surviving timeout child writes its late record this long after the
# attempt's timeout: well after the executor's SIGTERM grace and SIGKILL.
LATE_AFTER_S = 3.0


@dataclass(frozen=True)
class TaskPlan:
    """What a submitted task is meant to do, so checkers know what to expect."""

    nonce: str
    key: str
    kind: str
    sleep_s: float = 0.0
    fail_times: int = 0
    out_bytes: int = 0
    timeout_s: float = 0.0
    max_retries: int = 0

    def expected_exit(self, attempt: int) -> int | None:
        """The exit status of a run of ``attempt`` left alone; None: killed."""
        if self.kind == "timeout":
            return None
        if self.kind == "flaky" and attempt <= self.fail_times:
            return 3
        return 0

    def stdout_line(self, attempt: int) -> str:
        return f"out {self.nonce} {attempt}\n"

    def expected_stdout_bytes(self, attempt: int) -> int:
        extra = self.out_bytes + 1 if self.kind == "big" else 0
        return extra + len(self.stdout_line(attempt).encode())

    def payload(self) -> str:
        line = f'echo "out {self.nonce} $TITAN_ATTEMPT"'
        if self.kind == "flaky":
            return f'{line}; [ "$TITAN_ATTEMPT" -gt {self.fail_times} ] || (exit 3)'
        if self.kind == "timeout":
            late = self.timeout_s + LATE_AFTER_S
            return (
                f"(trap '' TERM; sleep {late:.1f}; w late null) & "
                f"sleep {self.sleep_s:.1f}; {line}"
            )
        if self.kind == "big":
            return f"head -c {self.out_bytes} /dev/zero | tr '\\0' x; echo; {line}"
        return f"sleep {self.sleep_s:.2f}; {line}"

    def spec(self, witness_path: Path) -> TaskSpec:
        return TaskSpec(
            command=witness.wrap(witness_path, self.nonce, self.payload()),
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskPlan:
        return cls(**data)


class Generator:
    """Draws one client's operations and task plans from its own seeded RNG."""

    def __init__(self, seed: int, client: int, reuse_ratio: float) -> None:
        self.rng = random.Random(f"jepsen-like/{seed}/client/{client}")
        self._client = client
        self._seed = seed
        self._reuse_ratio = reuse_ratio
        self._count = 0
        self.submitted: list[TaskPlan] = []

    def next_op(self) -> str:
        """``submit`` or ``read``; reads only once something was submitted."""
        if not self.submitted or self.rng.random() < 0.7:
            return "submit"
        return "read"

    def next_submit(self) -> tuple[TaskPlan, bool]:
        """A plan to submit, and whether it reuses an earlier key (a resubmit)."""
        if self.submitted and self.rng.random() < self._reuse_ratio:
            return self.rng.choice(self.submitted), True
        self._count += 1
        nonce = f"s{self._seed}c{self._client}n{self._count}"
        plan = self._draw(nonce, f"key-{nonce}")
        self.submitted.append(plan)
        return plan, False

    def _draw(self, nonce: str, key: str) -> TaskPlan:
        rng = self.rng
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == "quick":
            return TaskPlan(nonce, key, kind, sleep_s=rng.uniform(0.05, 0.4))
        if kind == "long":
            return TaskPlan(nonce, key, kind, sleep_s=rng.uniform(2.0, 6.0))
        if kind == "flaky":
            fail_times = rng.randint(1, 3)
            budget = fail_times + rng.choice((-1, 0, 0, 1, 1))
            return TaskPlan(
                nonce, key, kind, fail_times=fail_times, max_retries=max(0, budget)
            )
        if kind == "timeout":
            timeout_s = rng.uniform(0.5, 1.5)
            return TaskPlan(
                nonce,
                key,
                kind,
                sleep_s=timeout_s + 20,
                timeout_s=round(timeout_s, 2),
                max_retries=rng.randint(0, 1),
            )
        out_bytes = rng.randint(1, 3) * 1024 * 1024 + rng.randint(0, 4096)
        return TaskPlan(nonce, key, kind, out_bytes=out_bytes)

    def read_target(self) -> TaskPlan:
        return self.rng.choice(self.submitted)
