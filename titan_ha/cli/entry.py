"""Runs a click command so that usage errors are one line and exit code 2."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from titan_ha.cli import render


def run_with_one_line_errors(command: click.Command, prog_name: str) -> NoReturn:
    """Runs ``command`` on ``sys.argv`` and exits with its code."""
    try:
        code = command.main(prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(0)
    except click.UsageError as exc:
        hint = f" (see '{prog_name} --help')"
        if exc.ctx and exc.ctx.parent is not None:
            hint = f" (see '{prog_name} {exc.ctx.info_name} --help')"
        render.error(exc.format_message() + hint)
        sys.exit(2)
    except click.ClickException as exc:
        render.error(exc.format_message())
        sys.exit(exc.exit_code)
    except click.Abort:
        render.error("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
