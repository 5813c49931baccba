"""The run's report: results.json, timeline.png, report.html and a verdict line."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from jepsen_like.checkers import CheckResult, RunData, verdict
from jepsen_like.plot import plot_timeline

logger = logging.getLogger(__name__)

ARTEFACTS = (
    "history.jsonl",
    "witness.jsonl",
    "nemesis.jsonl",
    "final.json",
    "run.json",
)


def write_results(
    out: Path, data: RunData, results: dict[str, CheckResult]
) -> dict[str, Any]:
    """Writes results.json and returns what it holds."""
    summary = {
        "verdict": verdict(results),
        "run": {k: v for k, v in data.meta.items() if k != "strays"},
        "checkers": {name: r.to_json() for name, r in results.items()},
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def verdict_line(summary: dict[str, Any], out: Path) -> str:
    """One line: valid or not, and the figures the acceptance criteria name."""
    checks = summary["checkers"]

    def count(checker: str, key: str) -> Any:
        return checks.get(checker, {}).get("counts", {}).get(key)

    leaks = _sum(count("leaks", "late_children"), count("leaks", "leaked_processes"))
    v = summary["verdict"]
    head = "VALID" if v["valid"] else f"INVALID ({', '.join(v['invalid'])})"
    return (
        f"jepsen_like: {head} seed={summary['run']['config']['seed']} "
        f"acked={count('lost', 'acknowledged')} lost={count('lost', 'lost')} "
        f"phantom={count('phantom', 'phantom_tasks')} "
        f"dup-concurrent={count('duplicates', 'concurrent')} "
        f"dup-sequential={count('duplicates', 'sequential')} "
        f"dup-resumed={count('duplicates', 'resumed_after_reassignment')} "
        f"leaks={leaks} "
        f"failover-p50={_seconds(count('availability', 'failover_p50_s'))} "
        f"max={_seconds(count('availability', 'failover_max_s'))} "
        f"report={out / 'report.html'}"
    )


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value}s"


def _sum(*values: Any) -> int:
    return sum(int(v or 0) for v in values)


def write_html(out: Path, data: RunData, summary: dict[str, Any]) -> None:
    """Writes report.html and the timeline.png it shows."""
    try:
        plot_timeline(data, out / "timeline.png")
        figure = '<img src="timeline.png" alt="timeline" style="max-width:100%">'
    except Exception as exc:
        # The numbers matter more than the picture: report without it.
        logger.exception("timeline plot failed")
        figure = f"<p>timeline plot failed: {html.escape(repr(exc))}</p>"
    v = summary["verdict"]
    colour = "#1a7f37" if v["valid"] else "#cf222e"
    title = "VALID" if v["valid"] else "INVALID: " + ", ".join(v["invalid"])
    faults_injected = summary["run"].get("config", {}).get("test_faults") or []
    broken = (
        '<p class="broken">A deliberately broken build: TITAN_TEST_FAULTS='
        f"{html.escape(','.join(faults_injected))}</p>"
        if faults_injected
        else ""
    )
    rows = "\n".join(_checker_row(name, c) for name, c in summary["checkers"].items())
    faults = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(e.get(k, '')))}</td>"
            for k in (
                "time",
                "kind",
                "phase",
                "target",
                "variant",
                "hold_s",
                "recovery_s",
            )
        )
        + "</tr>"
        for e in data.nemesis
    )
    links = " · ".join(f'<a href="{name}">{name}</a>' for name in ARTEFACTS)
    config = html.escape(json.dumps(summary["run"].get("config", {}), indent=1))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jepsen_like report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
td, th {{ border: 1px solid #d0d7de; padding: 4px 8px; vertical-align: top; }}
pre {{ margin: 0; white-space: pre-wrap; max-width: 70em; font-size: 0.85em; }}
.verdict {{ color: {colour}; font-size: 1.6em; font-weight: bold; }}
.broken {{ background: #fff8c5; padding: 4px 8px; display: inline-block; }}
tr.invalid {{ background: #ffebe9; }}
</style></head><body>
<h1>jepsen_like report</h1>
<p class="verdict">{html.escape(title)}</p>
{broken}
<p>{html.escape(summary.get("line", ""))}</p>
<h2>Timeline</h2>
{figure}
<h2>Checkers</h2>
<table><tr><th>checker</th><th>valid</th><th>counts</th><th>examples</th></tr>
{rows}
</table>
<h2>Faults</h2>
<table><tr><th>time (s)</th><th>kind</th><th>phase</th><th>target</th>
<th>variant</th><th>hold (s)</th><th>recovery (s)</th></tr>
{faults}
</table>
<h2>Files</h2><p>{links} · <a href="state/logs/">process logs</a></p>
<h2>Configuration</h2><pre>{config}</pre>
</body></html>
"""
    (out / "report.html").write_text(page, encoding="utf-8")


def _checker_row(name: str, checker: dict[str, Any]) -> str:
    valid = checker["valid"]
    mark = {True: "✔ valid", False: "✘ INVALID", None: "? unknown"}[valid]
    counts = html.escape(json.dumps(checker["counts"], indent=1, default=str))
    # One compact line an example, wrapped by the page: a list of a few.
    examples = html.escape(
        "\n".join(json.dumps(e, default=str) for e in checker["examples"])[:3000]
    )
    notes = "".join(f"<br><em>{html.escape(n)}</em>" for n in checker["notes"])
    row = ' class="invalid"' if valid is False else ""
    return (
        f"<tr{row}><td>{html.escape(name)}{notes}</td><td>{mark}</td>"
        f"<td><pre>{counts}</pre></td><td><pre>{examples}</pre></td></tr>"
    )
