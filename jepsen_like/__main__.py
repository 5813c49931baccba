"""``python -m jepsen_like``: run the harness, or re-check an earlier run.

Exit codes: 0 the run is valid, 1 it is invalid, 2 usage (or a directory
that holds no complete run), 3 the cluster under test could not be
started, 130 the run was interrupted (SIGINT or SIGTERM) and stopped.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from jepsen_like.checkers.base import incomplete_run
from jepsen_like.config import (
    NEMESES,
    PARTITION_MODES,
    HarnessError,
    RunConfig,
    check_out_dir,
)
from jepsen_like.netns import netns_usable
from jepsen_like.runner import judge, run
from titan_ha.cli.entry import run_with_one_line_errors
from titan_ha.errors import ConfigError

EXIT_INVALID, EXIT_USAGE, EXIT_HARNESS, EXIT_INTERRUPTED = 1, 2, 3, 130


def _interrupt_on_sigterm() -> None:
    """SIGTERM unwinds the run as Ctrl-C does, stopping what it started."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _configure_logging(out: Path, verbose: bool) -> None:
    """Harness logs go to OUT/harness.log, and to stderr when asked."""
    out.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.FileHandler(out / "harness.log")]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(logging.INFO)


def _nemeses(text: str) -> tuple[str, ...]:
    """The names given; ``all`` means every nemesis."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    return NEMESES if names == ("all",) else names


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A Jepsen-style fault-injection harness for Titan HA."""


@main.command("run")
@click.option("--managers", type=click.IntRange(1, 7), default=3, show_default=True)
@click.option("--workers", type=click.IntRange(1, 16), default=3, show_default=True)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(1),
    default=60.0,
    show_default=True,
    help="Seconds of load and faults.",
)
@click.option(
    "--nemesis",
    "nemesis",
    default="",
    show_default=True,
    help=f"Comma-separated, from {','.join(NEMESES)}; or 'all'.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--clients", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(0.1),
    default=4.0,
    show_default=True,
    help="Client operations per second, all clients together.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="Attempt slots per worker.",
)
@click.option(
    "--dead-after",
    "dead_after_s",
    type=click.FloatRange(1.5),
    default=3.0,
    show_default=True,
)
@click.option(
    "--worker-scope",
    type=click.Choice(["tree", "process"]),
    default="tree",
    show_default=True,
    help="Signal a worker with its attempts (tree) or alone (process).",
)
@click.option("--test-faults", default="", help="TITAN_TEST_FAULTS for the managers.")
@click.option(
    "--partition-mode",
    type=click.Choice(PARTITION_MODES),
    default="auto",
    show_default=True,
    help="How partition-leader cuts the leader off: network namespaces "
    "(root), a TCP proxy between replicas, or netns when possible.",
)
@click.option(
    "--reuse-ratio", type=click.FloatRange(0, 0.9), default=0.1, show_default=True
)
@click.option(
    "--drain-timeout",
    "drain_timeout_s",
    type=click.FloatRange(1),
    default=90.0,
    show_default=True,
)
@click.option(
    "--max-failover-p50",
    "max_failover_p50_s",
    type=float,
    default=1.5,
    show_default=True,
)
@click.option("-v", "--verbose", is_flag=True, help="Harness logs on stderr too.")
def run_command(
    nemesis: str,
    out: Path,
    concurrency: int,
    test_faults: str,
    verbose: bool,
    **options: object,
) -> None:
    """Run the cluster under faults and check what happened."""
    try:
        config = RunConfig(
            out=out,
            nemeses=_nemeses(nemesis),
            worker_concurrency=concurrency,
            test_faults=tuple(f for f in test_faults.split(",") if f),
            **options,  # type: ignore[arg-type]
        ).validate()
        check_out_dir(out)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    _configure_logging(out, verbose)
    click.echo(
        f"jepsen_like: {config.duration_s:.0f}s, seed {config.seed}, nemeses "
        f"{','.join(config.nemeses) or 'none'}; logs in {out}/harness.log",
        err=True,
    )
    _interrupt_on_sigterm()
    try:
        outcome = run(config)
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_HARNESS)
    except KeyboardInterrupt:
        click.echo(
            f"jepsen_like: interrupted; cluster stopped, no verdict; "
            f"partial artefacts in {out}",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    click.echo(outcome.line)
    sys.exit(0 if outcome.valid else EXIT_INVALID)


@main.command("check")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
def check_command(out: Path) -> None:
    """Re-run the checkers on an earlier run's directory."""
    if missing := incomplete_run(out):
        click.echo(f"error: {out} holds no complete run: {missing}", err=True)
        sys.exit(EXIT_USAGE)
    _configure_logging(out, verbose=False)
    outcome = judge(out)
    click.echo(outcome.line)
    sys.exit(0 if outcome.valid else EXIT_INVALID)


@main.command("nemeses")
def nemeses_command() -> None:
    """List the nemeses and whether each is available."""
    why = netns_usable()
    for name in NEMESES:
        how = ""
        if name == "partition-leader":
            how = (
                "proxy (" + why + ")" if why else "netns (proxy with --partition-mode)"
            )
        click.echo(f"{name:18} ok {how}".rstrip())


if __name__ == "__main__":
    run_with_one_line_errors(main, "python -m jepsen_like")
