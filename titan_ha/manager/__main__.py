"""``bin/manager``: runs one manager replica until SIGTERM or SIGINT."""

from __future__ import annotations

import os

# Before grpc is imported: a manager forks to compact its Raft log, and
# gRPC's fork handlers would otherwise try to pause its threads around each
# fork (slow, and unsafe while calls are in flight). The child never uses gRPC.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import logging
import signal
import sys
import threading
import time

import click

from titan_ha import logs
from titan_ha.config import TEST_FAULTS, ClusterConfig, Environment
from titan_ha.dashboard import serve_in_thread
from titan_ha.errors import ConfigError, TitanError
from titan_ha.manager.dispatcher import Dispatcher
from titan_ha.manager.janitor import Janitor
from titan_ha.manager.leader import LeaderServices
from titan_ha.manager.liveness import Liveness
from titan_ha.manager.raft import RaftNode, RaftSettings
from titan_ha.manager.reaper import Reaper
from titan_ha.manager.server import ManagerService, build_server
from titan_ha.manager.startup import check_ports, claim_data_dir
from titan_ha.manager.state import ClusterState

logger = logging.getLogger("titan_ha.manager")

# The hasty-reaper test fault divides the reaper's threshold by this.
HASTY_REAPER_FACTOR = 10.0


def load_config(config_path: str | None, overrides: dict[str, object]) -> ClusterConfig:
    base = ClusterConfig.from_toml(config_path) if config_path else ClusterConfig()
    return base.with_overrides(**overrides).validate()


def run_replica(config: ClusterConfig, manager_id: str) -> None:
    """Starts the replica and blocks until a stop signal arrives."""
    me = config.manager(manager_id)
    faults = Environment.read().test_faults
    if faults:
        logger.warning(
            "test faults injected id=%s faults=%s", me.id, ",".join(sorted(faults))
        )
    if unknown := faults - TEST_FAULTS:
        logger.warning("unknown test faults ignored: %s", ",".join(sorted(unknown)))
    state = ClusterState(test_faults=faults)
    liveness = Liveness()
    dispatcher = Dispatcher(
        state,
        liveness,
        config.effective_lease_s,
        config.pulse_interval_s,
        config.dead_after_s,
    )
    reap_after_s = config.dead_after_s
    if "hasty-reaper" in faults:
        # A broken build that reaps healthy workers between their pulses.
        reap_after_s = config.dead_after_s / HASTY_REAPER_FACTOR
    loops = [
        Reaper(state, liveness, reap_after_s, dispatcher.notify_work),
        Janitor(state, config.retain_finished),
    ]
    leader = LeaderServices(
        me.id, state, dispatcher, loops, liveness, initial_members=config.managers
    )
    data_dir = f"{config.data_dir}/{me.id}" if config.data_dir else ""
    lock = claim_data_dir(data_dir) if data_dir else None
    check_ports(me)
    raft = RaftNode(
        RaftSettings(
            self_address=me.raft,
            bind_address=me.raft_bind,
            partner_addresses=tuple(m.raft for m in config.managers if m.id != me.id),
            secret=config.secret,
            data_dir=data_dir,
            election_min_s=config.election_min_s,
            election_max_s=config.election_max_s,
        ),
        state,
        on_role_change=leader.role_changed,
    )
    leader.start(raft)
    server = build_server(ManagerService(me, config, state, raft, leader), me.grpc)
    server.start()
    dashboard = None
    if me.dashboard:
        try:
            dashboard = serve_in_thread(me.dashboard, me.grpc, config.api_token or None)
        except ConfigError as exc:
            # The control plane matters more than its page: run without it.
            logger.error("dashboard not started id=%s error=%s", me.id, exc)
    logger.info(
        "manager started id=%s grpc=%s raft=%s data_dir=%s peers=%d",
        me.id,
        me.grpc,
        me.raft,
        data_dir or "-",
        len(config.managers) - 1,
    )

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    wait_until_stopped(stop, state, me.id)
    logger.info("manager stopping id=%s", me.id)
    if raft.is_leader and len(state.member_list() or config.managers) > 1:
        hand_over(raft, me.id)
    if dashboard is not None:
        dashboard.stop()
    server.stop(grace=1.0).wait()
    leader.close()
    raft.close()
    if lock is not None:
        lock.close()
    logger.info("manager stopped id=%s", me.id)


def wait_until_stopped(stop: threading.Event, state: ClusterState, me: str) -> None:
    """Returns on a stop signal, or once this replica was removed from the group.

    A removed replica that kept running would call elections that nobody
    answers, and disturb the group if it were added again.
    """
    was_member = False
    while not stop.wait(1.0):
        members = [member_id for member_id, _ in state.member_list()]
        if me in members:
            was_member = True
        elif was_member and members:
            logger.warning("removed from the cluster, stopping id=%s", me)
            return


def hand_over(raft: RaftNode, me: str) -> None:
    """Gives leadership to another replica before this one stops."""
    raft.transfer_leadership()
    deadline = time.monotonic() + 2.0
    while raft.is_leader and time.monotonic() < deadline:
        time.sleep(0.05)
    if raft.is_leader:
        logger.warning("leadership not handed over id=%s; followers will elect", me)
    else:
        logger.info("leadership handed over id=%s", me)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Cluster TOML file; without it, a single-replica cluster.",
)
@click.option(
    "--id", "manager_id", default=None, help="This replica's id in the config."
)
@click.option(
    "--data-dir", default=None, help="Keep the Raft journal and snapshot here."
)
@click.option(
    "--dead-after",
    "dead_after_s",
    type=float,
    default=None,
    help="Seconds of silence before a worker is declared DEAD.",
)
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
def main(
    config_path: str | None,
    manager_id: str | None,
    data_dir: str | None,
    dead_after_s: float | None,
    log_format: str | None,
) -> None:
    """Run one Titan HA manager replica."""
    try:
        config = load_config(
            config_path,
            {
                "data_dir": data_dir,
                "dead_after_s": dead_after_s,
                "log_format": log_format,
            },
        )
        manager_id = manager_id or config.managers[0].id
        config.manager(manager_id)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    logs.configure(config.log_format, name=manager_id)
    try:
        run_replica(config, manager_id)
    except ConfigError as exc:
        logger.error("manager not started id=%s error=%s", manager_id, exc)
        sys.exit(2)
    except TitanError as exc:
        logger.error("manager failed id=%s error=%s", manager_id, exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
