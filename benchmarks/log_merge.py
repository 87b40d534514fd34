"""Speed and memory of ``parsl logs`` on a large run.

Writes the logs of a run of ``--tasks`` no-op tasks through the real handlers and
buffers (JSONLogging or FileLogging at TASK_EVENTS; per-task events batched as the DFK,
interchange, managers and workers write them: 7 events a task over 5 processes, plus
one INFO line per 100 tasks), then times each command in a fresh process and reports its
peak resident memory.

    python benchmarks/log_merge.py --tasks 100000 --format json
"""
from __future__ import annotations

import argparse
import logging
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

from parsl.log_context import TASK_EVENTS, TaskEvents, set_process_context
from parsl.logconfigs import FileLogging, JSONLogging

logger = logging.getLogger("parsl.benchmark.log_merge")


def write_run(run: pathlib.Path, tasks: int, fmt: str) -> None:
    config = JSONLogging(level=TASK_EVENTS) if fmt == "json" else FileLogging(level=TASK_EVENTS)
    t0 = time.time() - tasks * 0.001 - 60
    batch = 400  # about what 0.2 s of a busy process holds

    def process(folder: pathlib.Path, name: str, context: dict, body) -> None:  # type: ignore[type-arg]
        set_process_context(**context)
        undo = config.initialize_logging(log_dir=folder, log_name=name)
        try:
            body(TaskEvents(logger))
        finally:
            undo()
            set_process_context(**{k: None for k in context})

    def dfk(events: TaskEvents) -> None:
        for t in range(tasks):
            at = t0 + t * 0.001
            events.add_at(at + 0.0001, "launched", t, try_id=0, executor="htex", app="noop",
                          executor_task_id=t, started=at)
            events.add_at(at + 0.004, "completed", t)
            if t % 100 == 0:
                logger.info("Progress: %d tasks", t)
            if len(events) >= batch:
                events.flush()
        events.flush()

    def interchange(events: TaskEvents) -> None:
        for t in range(tasks):
            at = t0 + t * 0.001
            events.add_at(at + 0.0004, "ix_received", t, executor_task_id=t)
            events.add_at(at + 0.0006, "ix_dispatched", t, executor_task_id=t,
                          manager_id="m1", block_id="0")
            if len(events) >= batch:
                events.flush()
        events.flush()

    def manager(events: TaskEvents) -> None:
        for t in range(tasks):
            events.add_at(t0 + t * 0.001 + 0.0009, "mgr_received", t, executor_task_id=t)
            if len(events) >= batch:
                events.flush()
        events.flush()

    def worker(rank: int):  # type: ignore[no-untyped-def]
        def body(events: TaskEvents) -> None:
            for t in range(rank, tasks, 2):
                at = t0 + t * 0.001
                events.add_at(at + 0.003, "worker_end", t, executor_task_id=t,
                              started=at + 0.0012, outcome="ok")
                if len(events) >= batch:
                    events.flush()
            events.flush()
        return body

    base = {"run_id": "bench"}
    process(run, "parsl", base, dfk)
    process(run / "htex", "interchange", {**base, "executor": "htex"}, interchange)
    pool = run / "htex" / "block-0" / "m1"
    ids = {**base, "executor": "htex", "block_id": "0", "manager_id": "m1"}
    process(pool, "manager", ids, manager)
    for rank in (0, 1):
        process(pool, f"worker_{rank}", {**ids, "worker_id": rank}, worker(rank))


def timed(args: List[str]) -> None:
    """Run one command in a fresh process; print its wall and CPU time and peak memory.
    (CPU time says more than wall time on a machine shared with other work.)"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "parsl.cli", *args], check=True,
                         capture_output=True, text=True).stdout
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    lines = out.count("\n")
    print(f"parsl {' '.join(args[:2])} ...: {seconds:6.2f} s wall, {cpu:6.2f} s CPU, peak RSS "
          f"{after.ru_maxrss / 1024:6.1f} MiB (max over commands so far), {lines} lines out")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100000)
    parser.add_argument("--format", choices=("json", "text"), default="json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="parsl-log-merge-") as tmp:
        run = pathlib.Path(tmp) / "000"
        start = time.perf_counter()
        write_run(run, args.tasks, args.format)
        size = sum(p.stat().st_size for p in run.rglob("*log"))
        print(f"wrote {args.tasks} tasks' {args.format} logs ({size / 2**20:.1f} MiB) in "
              f"{time.perf_counter() - start:.1f} s")
        timed(["logs", "timeline", str(run), str(args.tasks // 2)])
        timed(["logs", "latency", str(run)])
        timed(["logs", "trace", str(run), "-o", os.path.join(tmp, "trace.json")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
