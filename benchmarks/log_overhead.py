"""Cost of per-task log records: HTEX no-op throughput by log configuration.

Modes, run alternately in each repeat so machine drift hits them alike:

- ``default``: ``Config()`` logging (``parsl.log`` at INFO, text logs at INFO in the
  interchange, managers and workers; no per-task records);
- ``json-events``: ``JSONLogging(level=TASK_EVENTS)``: every process writes JSON with
  every per-task event (about 12 records per task across 4 processes) and queue metrics;
- ``text-events``: ``FileLogging(level=TASK_EVENTS)``: the same records as text.

Prints each mode's median end-to-end rate and its ratio to ``default``. ``--keep DIR``
keeps the run directories (``DIR/<mode>/NNN``) for ``parsl logs``. ``--modes default``
runs on sources from before parsl.logconfigs existed (``PYTHONPATH=<old
checkout>/packages/core/src:<old checkout>/packages/htex/src``), to compare default
logging across commits.

    python benchmarks/log_overhead.py --tasks 10000 --repeat 3
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import parsl
from parsl.config import Config


@parsl.python_app
def noop() -> None:
    return None


def logging_for(mode: str) -> Any:
    if mode == "default":
        return True  # (imports below are lazy so that this mode runs on older sources too)
    from parsl.log_context import TASK_EVENTS
    from parsl.logconfigs import FileLogging, JSONLogging

    if mode == "json-events":
        return JSONLogging(level=TASK_EVENTS)
    if mode == "text-events":
        return FileLogging(level=TASK_EVENTS)
    raise SystemExit(f"unknown mode {mode!r}; expected default, json-events or text-events")


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and all its descendants: the DFK, the
    interchange, the block's manager and its workers."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def run_once(mode: str, tasks: int, prefetch: int, run_dir: str) -> Tuple[float, float]:
    """Return (tasks per second, CPU microseconds per task over every process)."""
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    htex = HighThroughputExecutor(label="htex", address="127.0.0.1", max_workers_per_node=2,
                                  prefetch_capacity=prefetch,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    config = Config(executors=[htex], run_dir=run_dir, initialize_logging=logging_for(mode))
    with parsl.load(config):
        for fut in [noop() for _ in range(200)]:  # warm up: workers started and imported
            fut.result()
        cpu = _cpu_seconds()
        start = time.perf_counter()
        futures = [noop() for _ in range(tasks)]
        for fut in futures:
            fut.result()
        rate = tasks / (time.perf_counter() - start)
        return rate, (_cpu_seconds() - cpu) / tasks * 1e6


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prefetch", type=int, default=0)
    parser.add_argument("--modes", default="default,json-events,text-events")
    parser.add_argument("--keep", default=None, help="keep run directories under this folder")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    base = args.keep or tempfile.mkdtemp(prefix="parsl-log-overhead-")
    rates: Dict[str, List[float]] = {m: [] for m in modes}
    cpus: Dict[str, List[float]] = {m: [] for m in modes}
    ratios: Dict[str, List[float]] = {m: [] for m in modes}
    try:
        for i in range(args.repeat):
            for mode in modes:
                rate, cpu = run_once(mode, args.tasks, args.prefetch, f"{base}/{mode}")
                rates[mode].append(rate)
                cpus[mode].append(cpu)
                ratios[mode].append(rate / rates[modes[0]][-1])
                print(f"repeat {i + 1} {mode:12} {rate:8.0f} tasks/s {cpu:7.0f} us CPU/task",
                      flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    ref_cpu = statistics.median(cpus[modes[0]])
    print(f"\n{args.tasks} no-op tasks, HTEX 2 workers, prefetch_capacity={args.prefetch}, "
          f"median of {args.repeat}; 'paired' is the median of each repeat's rate ratio to "
          f"{modes[0]}, 'CPU' the CPU time per task summed over all processes")
    for mode in modes:
        median = statistics.median(rates[mode])
        cpu = statistics.median(cpus[mode])
        print(f"{mode:12} {median:8.0f} tasks/s  paired {statistics.median(ratios[mode]):6.1%}"
              f"  CPU {cpu:6.0f} us/task ({ref_cpu / cpu:6.1%} of {modes[0]}'s throughput "
              "if CPU-bound)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
