"""Memory per task of apps waiting on one unresolved future.

Submits N no-op apps that all depend on one plain future that is never resolved while
measuring, and prints the bytes allocated per task (tracemalloc, so only Python heap
growth caused by the submissions is counted). Target: at most 1.5 KB per task.

    python benchmarks/memory_waiting.py --tasks 100000
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import gc
import tempfile
import tracemalloc

import parsl
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor


@parsl.python_app
def noop(_):
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)],
                    run_dir=tempfile.mkdtemp(prefix="parsl-mem-"))
    with parsl.load(config):
        gate: cf.Future = cf.Future()
        noop(gate)  # warm up code paths and caches before measuring
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        futures = [noop(gate) for _ in range(args.tasks)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        per_task = (after - before) / args.tasks
        print(f"{args.tasks} tasks waiting on one future: {per_task:.0f} bytes per task "
              f"(including the list holding the futures)")
        gate.set_result(None)
        for fut in futures:
            fut.result()


if __name__ == "__main__":
    main()
