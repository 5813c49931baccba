"""``make bench``: runs every benchmark and prints BENCHMARKS.md-ready tables."""

from __future__ import annotations

import os
import platform
import sys

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")  # as in a manager

sys.path.insert(0, os.path.dirname(__file__))

import bench_compaction
import bench_failover
import bench_throughput


def main() -> None:
    print(
        f"# Titan HA benchmarks\n\n{platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Figures are medians of one run on a "
        "shared, noisy machine.\n"
    )
    for bench in (bench_throughput, bench_failover, bench_compaction):
        bench.main()
        print()


if __name__ == "__main__":
    main()
