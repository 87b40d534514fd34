"""Throughput of no-op cached apps with and without task_exit checkpointing.

Each measurement runs in a fresh interpreter (so one mode's garbage never slows the next)
with the thread executor, submitting ``--tasks`` no-op apps with distinct arguments (so no
memo hits) and waiting for all of them. Modes alternate across ``--repeat`` rounds and the
medians are printed, with the ratio the issue's target is stated in: task_exit throughput
must be at least 80% of the throughput of the same cached apps without checkpointing.

    python benchmarks/checkpoint_overhead.py --tasks 100000 --repeat 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

MODES = ("no_cache", "cache", "task_exit")


def measure(mode: str, tasks: int, threads: int) -> float:
    """Run ``tasks`` no-op apps in this process; return completed tasks per second."""
    import parsl
    from parsl.config import Config
    from parsl.executors.threads import ThreadPoolExecutor

    def noop(i: int) -> int:
        return i

    app = parsl.python_app(noop, cache=(mode != "no_cache"))
    config = Config(executors=[ThreadPoolExecutor(max_threads=threads)],
                    checkpoint_mode="task_exit" if mode == "task_exit" else None)
    with parsl.load(config):
        start = time.perf_counter()
        futures = [app(i) for i in range(tasks)]
        for fut in futures:
            fut.result()
        elapsed = time.perf_counter() - start
    return tasks / elapsed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.tasks, args.threads)))
        return 0
    rates: Dict[str, List[float]] = {mode: [] for mode in MODES}
    for round_number in range(args.repeat):
        for mode in MODES:
            with tempfile.TemporaryDirectory() as workdir:
                out = subprocess.run(
                    [sys.executable, os.path.abspath(__file__), "--one", mode,
                     "--tasks", str(args.tasks), "--threads", str(args.threads)],
                    cwd=workdir, check=True, capture_output=True, text=True)
            rate = float(out.stdout.strip().splitlines()[-1])
            rates[mode].append(rate)
            print(f"round {round_number + 1}: {mode:<9} {rate:8.0f} tasks/s", flush=True)
    medians = {mode: statistics.median(values) for mode, values in rates.items()}
    print(f"\n{args.tasks} no-op tasks, {args.threads} threads, median of {args.repeat}:")
    for mode in MODES:
        print(f"  {mode:<9} {medians[mode]:8.0f} tasks/s")
    ratio = medians["task_exit"] / medians["cache"]
    print(f"task_exit / cache throughput: {ratio:.2f} (target >= 0.80)")
    print(f"task_exit / no_cache throughput: {medians['task_exit'] / medians['no_cache']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
