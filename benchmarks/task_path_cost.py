"""CPU cost of one task's trip through the DFK, without threads: a load-robust figure.

The thread executor's throughput depends on how the machine's cores are shared at the
moment. This measures the same per-task path (app call -> submit -> launch -> executor
future -> completion -> result) on one thread: an executor that queues tasks in a list and
runs them when the batch is submitted, so no GIL hand-offs or waiting are included.

    python benchmarks/task_path_cost.py --tasks 100000 --repeat 5
    python benchmarks/task_path_cost.py --instructions     # needs valgrind: instructions
                                                            # per task, deterministic

Prints CPU microseconds per task (thread time; submission and completion apart) and the
part spent in the cyclic garbage collector. ``--instructions`` runs this script under
callgrind with 2,000 and 12,000 tasks and prints the difference per task, which does not
depend on machine load at all.
"""
from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import parsl
from parsl.config import Config
from parsl.dataflow.leanfuture import LeanFuture
from parsl.executors.threads import ThreadPoolExecutor

_Queued = Tuple[LeanFuture, Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]


class ListExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks wait in a list until :meth:`run_all`."""

    def __init__(self) -> None:
        super().__init__(label="list", max_threads=1)
        self.queued: List[_Queued] = []

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> LeanFuture:
        future = LeanFuture()
        self.queued.append((future, func, args, kwargs))
        return future

    def run_all(self) -> None:
        for future, func, args, kwargs in self.queued:
            if future.set_running_or_notify_cancel():
                future.set_result(func(*args, **kwargs))
        self.queued.clear()


@parsl.python_app
def noop(payload: str) -> int:
    return 7


class GcClock:
    """Thread time spent in garbage collections while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: Dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._start


def batch(executor: ListExecutor, n: int) -> Tuple[float, float, float]:
    """Seconds of thread time: submitting n tasks, completing them, in the GC."""
    clock = GcClock()
    gc.callbacks.append(clock)
    try:
        start = time.thread_time()
        futures = [noop("") for _ in range(n)]
        submitted = time.thread_time()
        executor.run_all()
        for future in futures:
            future.result()
        done = time.thread_time()
    finally:
        gc.callbacks.remove(clock)
    return submitted - start, done - submitted, clock.seconds


def measure(tasks: int, repeat: int) -> None:
    executor = ListExecutor()
    with tempfile.TemporaryDirectory(prefix="task-path-") as run_dir, \
            parsl.load(Config(executors=[executor], run_dir=run_dir)):
        batch(executor, 1000)
        rows = [batch(executor, tasks) for _ in range(repeat)]
    per = [tuple(x / tasks * 1e6 for x in row) for row in rows]
    for submit_us, complete_us, gc_us in per:
        print(f"{tasks} tasks: {submit_us + complete_us:6.2f} us/task (submit {submit_us:.2f}, "
              f"complete {complete_us:.2f}; GC {gc_us:.2f})")
    print(f"median {statistics.median(s + c for s, c, _ in per):.2f} us CPU per task, "
          f"GC {statistics.median(g for _, _, g in per):.2f} (median of {repeat})")


def instructions() -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    counts = []
    for n in (2000, 12000):
        proc = subprocess.run(
            [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
             os.path.abspath(__file__), "--tasks", str(n), "--repeat", "1"],
            capture_output=True, text=True, timeout=1800, check=False)
        found = re.search(r"Collected : ([0-9]+)", proc.stderr)
        if proc.returncode != 0 or found is None:
            raise SystemExit(f"callgrind run failed:\n{proc.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    print(f"{(counts[1] - counts[0]) / 10000:,.0f} instructions per task "
          "(callgrind, 12,000 minus 2,000 tasks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per task under callgrind instead")
    args = parser.parse_args()
    if args.instructions:
        instructions()
    else:
        measure(args.tasks, args.repeat)


if __name__ == "__main__":
    main()
