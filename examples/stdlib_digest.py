"""A real workload: digest and compress the Python standard library on Titan.

One task per standard-library directory: it lists the directory's ``.py``
files, hashes each with sha256sum, compresses them all with gzip -9, and
prints one JSON line. The script submits every task, waits for all of them,
checks each digest against one computed here, and prints a summary.

    .venv/bin/python examples/stdlib_digest.py [--managers H:P,...] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
import sysconfig
import time
from pathlib import Path

from titan_ha.api.client import Client
from titan_ha.api.views import TaskSpec

SCRIPT = (
    "cd {dir} && ls *.py | LC_ALL=C sort > /tmp/titan-files-$$ && "
    "files=$(wc -l < /tmp/titan-files-$$) && "
    "bytes=$(cat $(cat /tmp/titan-files-$$) | wc -c) && "
    "digest=$(cat $(cat /tmp/titan-files-$$) | sha256sum | cut -d' ' -f1) && "
    "packed=$(cat $(cat /tmp/titan-files-$$) | gzip -9 | wc -c) && "
    "rm -f /tmp/titan-files-$$ && "
    'printf \'{{"files": %d, "bytes": %d, "gzip_bytes": %d, "sha256": "%s"}}\\n\' '
    '"$files" "$bytes" "$packed" "$digest"'
)


def stdlib_dirs() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for path, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__"))
        if any(f.endswith(".py") for f in files):
            found.append(Path(path))
    return sorted(found)


def local_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in sorted(p.name for p in directory.glob("*.py")):
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--managers",
        default=os.environ.get(
            "TITAN_MANAGERS", "127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053"
        ),
    )
    parser.add_argument("--limit", type=int, default=0, help="at most N directories")
    args = parser.parse_args()

    directories = stdlib_dirs()
    if args.limit:
        directories = directories[: args.limit]
    client = Client(args.managers.split(","))
    started = time.monotonic()
    submitted = {}
    for directory in directories:
        command = SCRIPT.format(dir=shlex.quote(str(directory)))
        task_id, _ = client.submit(
            TaskSpec(command=command, timeout_s=60, max_retries=2)
        )
        submitted[task_id] = directory
    print(f"submitted {len(submitted)} tasks", file=sys.stderr)

    totals = {"files": 0, "bytes": 0, "gzip_bytes": 0}
    failed, mismatched, workers = [], [], {}
    for task_id, directory in submitted.items():
        task = client.wait(task_id, timeout_s=300)
        if task.state != "SUCCEEDED":
            failed.append((task_id, str(directory), task.state))
            continue
        result = json.loads(task.stdout)
        if result["sha256"] != local_digest(directory):
            mismatched.append((task_id, str(directory)))
        for key in totals:
            totals[key] += result[key]
        workers[task.worker_id] = workers.get(task.worker_id, 0) + 1
    elapsed = time.monotonic() - started

    print(
        f"tasks:        {len(submitted)} ({len(failed)} failed, "
        f"{len(mismatched)} digest mismatches)"
    )
    print(f"files:        {totals['files']}")
    print(f"source bytes: {totals['bytes']:,}")
    print(
        f"gzip -9:      {totals['gzip_bytes']:,} "
        f"({totals['gzip_bytes'] / max(totals['bytes'], 1):.1%} of the source)"
    )
    print("per worker:   " + ", ".join(f"{w} {n}" for w, n in sorted(workers.items())))
    print(f"wall time:    {elapsed:.1f}s")
    for task_id, directory, state in failed:
        print(f"FAILED {task_id} {directory} {state}")
    for task_id, directory in mismatched:
        print(f"MISMATCH {task_id} {directory}")
    return 0 if not failed and not mismatched else 1


if __name__ == "__main__":
    sys.exit(main())
