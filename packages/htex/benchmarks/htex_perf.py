"""Benchmark HighThroughputExecutor through the DFK on LocalProvider.

Prints: submission rate and end-to-end rate of no-op tasks, median latency of one task in
a chain of dependent apps, and throughput of tasks taking a 1 MB argument. Figures are
for comparison across commits on the same machine; no assertion is made.

    python packages/htex/benchmarks/htex_perf.py [--tasks 20000] [--workers 2] [--prefetch 0]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider


@parsl.python_app
def noop(*_: Any) -> None:
    return None


@parsl.python_app
def size_of(blob: bytes) -> int:
    return len(blob)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefetch", type=int, default=0)
    parser.add_argument("--chain", type=int, default=500)
    parser.add_argument("--big", type=int, default=500, help="number of 1 MB-argument tasks")
    args = parser.parse_args()
    run_dir = tempfile.mkdtemp(prefix="htex-perf-")
    config = Config(executors=[HighThroughputExecutor(
        label="htex", address="127.0.0.1", max_workers_per_node=args.workers,
        prefetch_capacity=args.prefetch,
        provider=LocalProvider(init_blocks=1, max_blocks=1))], run_dir=run_dir)
    with parsl.load(config):
        noop().result()
        start = time.perf_counter()
        futures = [noop() for _ in range(args.tasks)]
        submitted = time.perf_counter()
        for f in futures:
            f.result()
        done = time.perf_counter()
        print(f"no-op tasks: {args.tasks}, submit {args.tasks / (submitted - start):.0f} tasks/s, "
              f"end to end {args.tasks / (done - start):.0f} tasks/s")

        latencies = []
        for _ in range(args.chain):
            t = time.perf_counter()
            noop(noop()).result()
            latencies.append((time.perf_counter() - t) / 2)
        print(f"chain latency per dependent task: median {statistics.median(latencies) * 1e3:.3f} "
              f"ms over {args.chain} chains of 2")

        blob = b"x" * 2**20
        start = time.perf_counter()
        sizes = [size_of(blob) for _ in range(args.big)]
        assert all(f.result() == 2**20 for f in sizes)
        elapsed = time.perf_counter() - start
        print(f"1 MB-argument tasks: {args.big / elapsed:.0f} tasks/s "
              f"({args.big / elapsed:.0f} MB/s)")


if __name__ == "__main__":
    main()
