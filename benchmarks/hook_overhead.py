"""Cost of the task hooks: no-op throughput with no plugin, and with a plugin observing
every task state change.

    python benchmarks/hook_overhead.py --tasks 50000 --repeat 5

Prints the median end-to-end rate of each and their ratio. With no plugin the DFK skips
the hook calls entirely, so that figure should match plain parsl-perf.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import parsl
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor
from parsl.plugins.hookspecs import hookimpl


class CountingPlugin:
    def __init__(self) -> None:
        self.changes = 0

    @hookimpl
    def parsl_task_state_change(self, dfk, task_record, old_state, new_state):  # type: ignore[no-untyped-def]
        self.changes += 1


@parsl.python_app
def noop():  # type: ignore[no-untyped-def]
    return None


def rate(tasks: int, plugins: list) -> float:
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], plugins=plugins,
                    run_dir=tempfile.mkdtemp(prefix="parsl-hooks-"))
    with parsl.load(config):
        start = time.perf_counter()
        futures = [noop() for _ in range(tasks)]
        for fut in futures:
            fut.result()
        return tasks / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    plain = [rate(args.tasks, []) for _ in range(args.repeat)]
    hooked = [rate(args.tasks, [CountingPlugin()]) for _ in range(args.repeat)]
    p, h = statistics.median(plain), statistics.median(hooked)
    print(f"no plugin:          {p:.0f} tasks/s (median of {args.repeat})")
    print(f"state-change plugin: {h:.0f} tasks/s (median of {args.repeat})")
    print(f"ratio plugin/no plugin: {h / p:.2f}")


if __name__ == "__main__":
    main()
