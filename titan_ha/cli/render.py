"""Everything the CLI shows: one rich console for stdout, one for errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Column, Table

from titan_ha.api.views import ClusterStatus, TaskView

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

STATE_STYLE = {
    "PENDING": "yellow",
    "RUNNING": "cyan",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELLED": "magenta",
    "DEAD": "red",
    "IDLE": "green",
    "BUSY": "cyan",
    "DRAINING": "yellow",
    "leader": "bold green",
    "unreachable": "red",
}


def styled(text: str) -> str:
    style = STATE_STYLE.get(text)
    return f"[{style}]{text}[/]" if style else text


def error(message: str) -> None:
    """One red line on stderr."""
    err.print(f"[red]error:[/] {message}", markup=True, highlight=False)


def as_json(data: Any) -> None:
    # Plain print: JSON must not be wrapped or styled, whatever the terminal.
    print(json.dumps(data, indent=2, ensure_ascii=False))


def when(ts: float, short: bool = False) -> str:
    """Local time of ``ts``; ``short`` leaves the date out when it is today."""
    if not ts:
        return "-"
    moment = datetime.fromtimestamp(ts, UTC).astimezone()
    if short and moment.date() == datetime.now(UTC).astimezone().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def task_detail(task: TaskView) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("id", task.id),
        ("state", styled(task.state)),
        ("command", task.command),
        ("timeout", f"{task.timeout_s:g}s" if task.timeout_s else "none"),
        ("max retries", str(task.max_retries)),
        ("submitted", when(task.submitted_at)),
        ("finished", when(task.finished_at)),
        ("worker", task.worker_id or "-"),
        ("exit code", "-" if task.exit_code is None else str(task.exit_code)),
        ("outcome", task.outcome or "-"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    if task.attempts:
        attempts = Table(
            "#", "worker", "outcome", "exit", "signal", "started", "finished", "error"
        )
        for a in task.attempts:
            attempts.add_row(
                str(a.number),
                a.worker_id,
                styled(a.outcome or "RUNNING"),
                "-" if a.exit_code is None else str(a.exit_code),
                a.signal or "-",
                when(a.started_at),
                when(a.finished_at),
                a.error or "-",
            )
        out.print(attempts)
    for name, text, total, cut in (
        ("stdout", task.stdout, task.stdout_bytes, task.stdout_truncated),
        ("stderr", task.stderr, task.stderr_bytes, task.stderr_truncated),
    ):
        if text:
            note = f" ({total} bytes{', truncated' if cut else ''})"
            out.rule(f"{name}{note}", align="left")
            out.print(text, markup=False, end="" if text.endswith("\n") else "\n")


def task_table(tasks: list[TaskView]) -> None:
    # The command column gives way first: ids, states and workers stay whole.
    table = Table(
        Column("id", no_wrap=True, min_width=16),
        Column("state", no_wrap=True, min_width=9),
        Column("command", overflow="ellipsis", no_wrap=True),
        Column("tries", no_wrap=True, min_width=5),
        Column("exit", no_wrap=True, min_width=4),
        Column("worker", no_wrap=True, min_width=9),
        Column("submitted", no_wrap=True, min_width=9),
    )
    for t in tasks:
        command = t.command if len(t.command) <= 40 else t.command[:39] + "…"
        table.add_row(
            t.id,
            styled(t.state),
            command,
            str(t.attempt_count or "-"),
            "-" if t.exit_code is None else str(t.exit_code),
            t.worker_id or "-",
            when(t.submitted_at, short=True),
        )
    out.print(table)


def status(view: ClusterStatus) -> None:
    leader = view.leader or "[red]none[/] (no quorum or election under way)"
    out.print(f"[bold]leader[/] {leader}   [bold]term[/] {view.term}")
    managers = Table("manager", "grpc", "role", "commit", "applied")
    for m in view.managers:
        known = m.role != "unreachable"
        managers.add_row(
            m.id,
            m.grpc,
            styled(m.role),
            str(m.commit_index) if known else "-",
            str(m.applied_index) if known else "-",
        )
    out.print(managers)
    workers = Table("worker", "state", "last seen", "running")
    for w in view.workers:
        seen = "-" if w.last_seen_s is None else f"{w.last_seen_s:.1f}s ago"
        workers.add_row(w.id, styled(w.state), seen, ", ".join(w.running) or "-")
    out.print(workers)
    counts = "  ".join(f"{styled(k)} {v}" for k, v in view.to_json()["tasks"].items())
    out.print(f"[bold]tasks[/] {counts}")
