"""A workflow with many HTEX tasks in flight, for the Ctrl-C test to interrupt.

Usage: ctrl_c_workflow.py RUN_DIR TASKS

Loads a HighThroughputExecutor with one local block of two workers, submits TASKS apps
that each sleep briefly, prints ``started <interchange pid>`` once the first has returned,
and then blocks reading results, as a user's script does. At exit (after Parsl's own
cleanup) it prints ``unfinished <n>``: how many futures were neither failed nor cancelled
nor done.
"""
from __future__ import annotations

import atexit
import os
import sys
from typing import List

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
futures: List[parsl.AppFuture] = []


@parsl.python_app
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def report() -> None:
    print(f"unfinished {sum(not f.done() for f in futures)}", flush=True)


def main() -> None:
    run_dir, tasks = sys.argv[1], int(sys.argv[2])
    # Registered before parsl.load, so it runs after Parsl's exit handling.
    atexit.register(report)
    ex = HighThroughputExecutor(label="htex", address="127.0.0.1", max_workers_per_node=2,
                                provider=LocalProvider(init_blocks=1, max_blocks=1))
    parsl.load(Config(executors=[ex], run_dir=run_dir))
    futures.extend(nap(0.02) for _ in range(tasks))
    futures[0].result()
    assert ex.interchange_proc is not None
    print("started", ex.interchange_proc.pid, flush=True)
    for fut in futures:
        fut.result()


if __name__ == "__main__":
    main()
