"""One run: start the cluster, load it, break it, heal it, drain it, judge it.

Phases, all bounded in time: start (until a leader leads and every worker
is live), load and faults for ``duration_s``, final heal and recovery,
drain (until no task is pending or running), final reads, checkers,
report. The run clock starts when the cluster is healthy, so every
artefact's times count from the first client operation's epoch.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jepsen_like import observe
from jepsen_like.checkers import check_all, load_run
from jepsen_like.clients import ClientThread
from jepsen_like.cluster import HarnessCluster
from jepsen_like.config import HarnessError, RunConfig
from jepsen_like.history import OK, History, JsonlLog, RunClock
from jepsen_like.nemesis import NemesisThread, build_schedule, heal_everything
from jepsen_like.report import verdict_line, write_html, write_results
from jepsen_like.workload import Generator
from titan_ha.api.client import Client

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 30.0
RECOVERY_TIMEOUT_S = 30.0
CLIENT_JOIN_S = 15.0


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run says: its summary (results.json) and verdict line."""

    summary: dict[str, Any]
    line: str

    @property
    def valid(self) -> bool:
        return bool(self.summary["verdict"]["valid"])


def run(config: RunConfig) -> RunOutcome:
    """Runs the harness once and writes every artefact under ``config.out``."""
    config.validate()
    out = config.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if (out / "history.jsonl").exists():
        raise HarnessError(f"{out} already holds a run; choose another --out")
    cluster = HarnessCluster(config, out / "state")
    meta: dict[str, Any] = {"config": config.to_json(), "run_id": cluster.run_id}
    try:
        cluster.start()
        ready_s = cluster.wait_healthy(STARTUP_TIMEOUT_S)
        if ready_s is None:
            raise HarnessError(
                f"the cluster did not become healthy; see {out}/state/logs"
            )
        logger.info(
            "cluster ready ready_s=%.2f endpoints=%s", ready_s, cluster.endpoints
        )
        meta.update(_exercise(config, cluster, out))
    finally:
        cluster.kill_strays()
        cluster.stop()
        cluster.kill_strays()
    (out / "run.json").write_text(json.dumps(meta, indent=1, default=str))
    return judge(out)


def judge(out: Path) -> RunOutcome:
    """Runs the checkers on a finished run's directory and writes the report."""
    data = load_run(out)
    results = check_all(data)
    summary = write_results(out, data, results)
    line = verdict_line(summary, out)
    summary["line"] = line
    write_html(out, data, summary)
    return RunOutcome(summary, line)


def _exercise(config: RunConfig, cluster: HarnessCluster, out: Path) -> dict[str, Any]:
    """The timed part of the run; returns what run.json records about it."""
    clock = RunClock.start()
    history = History(out / "history.jsonl", clock)
    faults = JsonlLog(out / "nemesis.jsonl", clock)
    witness_path = out / "witness.jsonl"
    witness_path.touch()
    cluster_config = cluster.cluster_config
    schedule = build_schedule(
        config.seed,
        config.nemeses,
        config.duration_s,
        config.dead_after_s,
        cluster_config.election_max_s,
    )
    stop = threading.Event()
    mean_gap_s = config.clients / config.rate
    clients = [
        ClientThread(
            i,
            cluster.endpoints,
            Generator(config.seed, i, config.reuse_ratio),
            history,
            witness_path,
            mean_gap_s,
            stop,
        )
        for i in range(config.clients)
    ]
    nemesis = NemesisThread(
        cluster, schedule, faults, config.worker_scope == "tree", stop
    )
    try:
        nemesis.start()
        for client in clients:
            client.start()
        stop.wait(config.duration_s)
        stop.set()
        load_s = clock.now()
        for client in clients:
            client.join(CLIENT_JOIN_S)
        nemesis.join(CLIENT_JOIN_S)
        heal_everything(cluster, faults)
        recovery_s = cluster.wait_healthy(RECOVERY_TIMEOUT_S)
        logger.info("load over, healed recovery_s=%s; draining", recovery_s)
        final = _final_state(config, cluster, history)
        strays = cluster.stray_processes()
        end_t = clock.now()
    finally:
        stop.set()
        history.close()
        faults.close()
    (out / "final.json").write_text(json.dumps(final.to_json(), default=str))
    return {
        "clock": clock.to_json(),
        "schedule": [fault.to_json() for fault in schedule],
        "cluster": {
            "endpoints": cluster.endpoints,
            "dead_after_s": cluster_config.dead_after_s,
            "lease_s": cluster_config.effective_lease_s,
            "election_max_s": cluster_config.election_max_s,
        },
        "load_s": round(load_s, 3),
        "recovery_s": recovery_s,
        "end_t": round(end_t, 3),
        "strays": strays,
    }


def _final_state(
    config: RunConfig, cluster: HarnessCluster, history: History
) -> observe.FinalState:
    client = Client(cluster.endpoints)
    try:
        drained, drain_s = observe.drain(client, config.drain_timeout_s)
        logger.info("drain over drained=%s drain_s=%.1f", drained, drain_s)
        acked = {
            str(r["value"]["task_id"])
            for r in history.records
            if r["type"] == OK and r["f"] == "submit"
        }
        final = observe.read_final(client, cluster.endpoints, acked)
        final.drained, final.drain_s = drained, drain_s
        logger.info("final state read tasks=%d", len(final.tasks))
        return final
    finally:
        client.close()
