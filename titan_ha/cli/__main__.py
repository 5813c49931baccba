"""``bin/titan`` entry point: usage errors become one line and exit code 2."""

from __future__ import annotations

import sys

import click

from titan_ha.cli import render
from titan_ha.cli.main import cli


def run() -> None:
    try:
        code = cli.main(prog_name="titan", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(0)
    except click.UsageError as exc:
        hint = f" (see 'titan {exc.ctx.info_name} --help')" if exc.ctx else ""
        if exc.ctx and exc.ctx.parent is None:
            hint = " (see 'titan --help')"
        render.error(exc.format_message() + hint)
        sys.exit(2)
    except click.ClickException as exc:
        render.error(exc.format_message())
        sys.exit(exc.exit_code)
    except click.Abort:
        render.error("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
