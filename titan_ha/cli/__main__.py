"""``bin/titan`` entry point: usage errors become one line and exit code 2."""

from __future__ import annotations

from titan_ha.cli.entry import run_with_one_line_errors
from titan_ha.cli.main import cli


def run() -> None:
    run_with_one_line_errors(cli, "titan")


if __name__ == "__main__":
    run()
