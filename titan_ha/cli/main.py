"""``titan``: the command-line client.

Every command talks to the cluster through ``titan_ha.api``; errors become
one line on stderr and an exit code (CONTRACT.md): 0 ok, 1 error or task not
successful, 2 usage, 3 no manager or no leader reachable, 4 unauthenticated,
5 not found.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec, TaskView
from titan_ha.cli import render
from titan_ha.cli.submission import (
    MAX_TIMEOUT_S,
    check_submission,
    parse_memory,
    uncertain_submit,
)
from titan_ha.config import Environment, parse_endpoints
from titan_ha.errors import (
    CommitUncertain,
    ConfigError,
    InvalidRequest,
    NoLeader,
    NotFound,
    TitanError,
    Unauthenticated,
    Unreachable,
)

DEFAULT_CONFIG = Path("~/.config/titan/config.toml").expanduser()
DEFAULT_MANAGERS = "127.0.0.1:50051"
DEADLINE_S = 2.5
LOG_FIELDS = (
    "id",
    "state",
    "stdout",
    "stderr",
    "stdout_bytes",
    "stderr_bytes",
    "stdout_truncated",
    "stderr_truncated",
)
EXIT_CODES: tuple[tuple[type[TitanError], int], ...] = (
    (ConfigError, 2),
    (InvalidRequest, 2),
    (NoLeader, 3),
    (Unreachable, 3),
    (Unauthenticated, 4),
    (NotFound, 5),
)


@dataclass
class Session:
    managers: tuple[str, ...]
    token: str | None
    debug: bool
    _client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.managers, token=self.token)
        return self._client


def fail(error: BaseException, debug: bool) -> NoReturn:
    if debug:
        import traceback

        traceback.print_exception(error)
    code = 1
    for kind, exit_code in EXIT_CODES:
        if isinstance(error, kind):
            code = exit_code
            break
    render.error(str(error))
    sys.exit(code)


def load_file_config(path: str | None) -> dict[str, Any]:
    file = Path(path) if path else DEFAULT_CONFIG
    if not path and not file.exists():
        return {}
    try:
        return tomllib.loads(file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from exc


class TitanGroup(click.Group):
    """Runs commands so that Titan errors become one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TitanError as error:
            session = ctx.obj if isinstance(ctx.obj, Session) else None
            fail(error, bool(session and session.debug))


@click.group(cls=TitanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--managers",
    default=None,
    help=f"Manager endpoints H:P,H:P (TITAN_MANAGERS; default {DEFAULT_MANAGERS}).",
)
@click.option("--token", default=None, help="API bearer token (TITAN_TOKEN).")
@click.option(
    "--config",
    "config_path",
    default=None,
    help="TOML file with the same keys (default ~/.config/titan/config.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(
    ctx: click.Context,
    managers: str | None,
    token: str | None,
    config_path: str | None,
    debug: bool,
) -> None:
    """Titan HA: submit and follow tasks on a fault-tolerant cluster."""
    file = load_file_config(config_path)
    env = Environment.read()
    listed = file.get("managers")
    if isinstance(listed, list):
        listed = ",".join(str(m) for m in listed)
    chosen = next(
        (m for m in (managers, env.managers, listed) if m is not None), DEFAULT_MANAGERS
    )
    endpoints = parse_endpoints(chosen)
    ctx.obj = Session(endpoints, token or env.token or file.get("token"), debug)


def finish_with(task: TaskView, as_json: bool) -> NoReturn:
    if as_json:
        render.as_json(task.to_json())
    else:
        render.task_detail(task)
    sys.exit(0 if task.state == "SUCCEEDED" else 1)


@cli.command()
@click.option("--command", "command", required=True, help="Shell command to run.")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, max=MAX_TIMEOUT_S),
    default=0.0,
    help="Seconds before the attempt is killed (0: none).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0, max=1000),
    default=0,
    help="Retries after a failure: at most N+1 attempts.",
)
@click.option("--docker", "docker_image", default="", help="Run in this Docker image.")
@click.option("--cpus", type=click.FloatRange(min=0, max=1024), default=0.0)
@click.option("--memory", default=None, help="Memory limit, e.g. 64m.")
@click.option("--network", type=click.Choice(["none", "bridge"]), default=None)
@click.option(
    "--idempotency-key",
    default=None,
    help="Submitting the same key twice creates one task.",
)
@click.option("--wait", "wait", is_flag=True, help="Wait and print the result.")
@click.option("--json", "as_json", is_flag=True, help="With --wait: print JSON.")
@click.pass_obj
def submit(
    session: Session,
    command: str,
    timeout_s: float,
    max_retries: int,
    docker_image: str,
    cpus: float,
    memory: str | None,
    network: str | None,
    idempotency_key: str | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Submit a task; prints its id."""
    check_submission(command, timeout_s, idempotency_key)
    spec = TaskSpec(
        command=command,
        timeout_s=timeout_s,
        max_retries=max_retries,
        docker_image=docker_image,
        cpus=cpus,
        memory_bytes=parse_memory(memory),
        network=network or "",
    )
    try:
        task_id, _ = session.client.submit(
            spec, idempotency_key=idempotency_key, deadline_s=DEADLINE_S
        )
    except CommitUncertain as exc:
        raise uncertain_submit(exc, idempotency_key) from exc
    if not wait:
        click.echo(task_id)
        return
    # Said first, so that an interrupted wait still leaves the id behind.
    render.err.print(f"task {task_id} submitted; waiting", highlight=False)
    finish_with(session.client.wait(task_id), as_json)


@cli.command()
@click.option("--id", "task_id", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def get(session: Session, task_id: str, as_json: bool) -> None:
    """Show a task, its attempts and its output."""
    task = session.client.get(task_id, deadline_s=DEADLINE_S)
    if as_json:
        render.as_json(task.to_json())
    else:
        render.task_detail(task)


@cli.command()
@click.option(
    "--state",
    type=click.Choice(
        ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"], case_sensitive=False
    ),
    default=None,
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=50, show_default=True, help="0: all."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tasks(session: Session, state: str | None, limit: int, as_json: bool) -> None:
    """List tasks, newest first."""
    found = session.client.tasks(
        state.upper() if state else None, limit, deadline_s=DEADLINE_S
    )
    if as_json:
        render.as_json([t.to_json(with_output=False) for t in found])
    else:
        render.task_table(found)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(session: Session, as_json: bool) -> None:
    """Show the leader, managers, workers and task counts."""
    view = session.client.status(deadline_s=DEADLINE_S)
    if as_json:
        render.as_json(view.to_json())
    else:
        render.status(view)


@cli.command()
@click.option("--id", "task_id", required=True)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0),
    default=None,
    help="Give up after this many seconds (exit 1).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def wait(
    session: Session, task_id: str, timeout_s: float | None, as_json: bool
) -> None:
    """Wait for a task to end; exit 0 only if it succeeded."""
    session.client.get(task_id, deadline_s=DEADLINE_S)  # unknown ids fail at once
    try:
        task = session.client.wait(task_id, timeout_s)
    except TimeoutError as exc:
        render.error(str(exc))
        sys.exit(1)
    finish_with(task, as_json)


@cli.command()
@click.option("--id", "task_id", required=True)
@click.option("--follow", is_flag=True, help="Wait for the task to end first.")
@click.option("--json", "as_json", is_flag=True, help="Both streams as one object.")
@click.pass_obj
def logs(session: Session, task_id: str, follow: bool, as_json: bool) -> None:
    """Print a task's stdout (to stdout) and stderr (to stderr)."""
    task = session.client.get(task_id, deadline_s=DEADLINE_S)
    if follow and not task.is_final:
        task = session.client.wait(task_id)
    if as_json:
        data = task.to_json()
        render.as_json({key: data[key] for key in LOG_FIELDS})
        return
    sys.stdout.write(task.stdout)
    sys.stderr.write(task.stderr)


@cli.command()
@click.option("--id", "task_id", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def cancel(session: Session, task_id: str, as_json: bool) -> None:
    """Cancel a pending or running task; prints its new state."""
    state = session.client.cancel(task_id, deadline_s=DEADLINE_S)
    if as_json:
        render.as_json({"id": task_id, "state": state})
    else:
        click.echo(state)


@cli.group()
def cluster() -> None:
    """Grow or shrink the manager group, one manager at a time."""


@cluster.command("add-manager")
@click.option("--id", "manager_id", required=True)
@click.option("--grpc", "grpc_address", required=True, help="Its gRPC address H:P.")
@click.option("--raft", "raft_address", required=True, help="Its Raft address H:P.")
@click.option("--dashboard", default="", help="Its dashboard address H:P.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def add_manager(
    session: Session,
    manager_id: str,
    grpc_address: str,
    raft_address: str,
    dashboard: str,
    as_json: bool,
) -> None:
    """Add a manager that is already running with the new cluster config."""
    members = session.client.add_manager(
        manager_id, grpc_address, raft_address, dashboard
    )
    show_members(members, as_json)


@cluster.command("remove-manager")
@click.option("--id", "manager_id", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def remove_manager(session: Session, manager_id: str, as_json: bool) -> None:
    """Remove a manager from the group (stop its process afterwards)."""
    show_members(session.client.remove_manager(manager_id), as_json)


def show_members(members: list[dict[str, str]], as_json: bool) -> None:
    if as_json:
        render.as_json(members)
        return
    for member in members:
        click.echo(f"{member['id']}  grpc {member['grpc']}  raft {member['raft']}")
