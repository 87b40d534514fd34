"""CPU per task of the monitoring database writer, replaying a recorded run's messages.

The writer process's CPU is the largest part of what monitoring costs, but in a live run
it moves with the machine's load and with the rest of the workflow. This script records
once what the writer process receives during an HTEX run of no-op tasks (resource
monitoring on, its default interval), then replays those messages into a
``DatabaseWriter`` in this process, merging and writing them as the writer does (one write
per two of the sender's batches, as with the default ``flush_period``), and prints the
process CPU per task: the minimum and the median of ``--repeat`` replays, each into a new
SQLite file, and how much of it the driver's ``executemany`` calls took.

    python packages/monitoring/benchmarks/writer_replay.py record /tmp/run.pkl --tasks 10000
    python packages/monitoring/benchmarks/writer_replay.py replay /tmp/run.pkl --repeat 5

A recording is a pickle of this project's message tuples: replay it with the code it was
recorded with, or with code whose message kinds are unchanged.
"""
from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from typing import Any, List, Tuple


def noop() -> None:
    return None


def record(path: str, tasks: int) -> None:
    import parsl
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.monitoring import MonitoringHub
    from parsl.providers import LocalProvider
    from parsl_monitoring import writer_process

    batches: List[List[Tuple[Any, ...]]] = []
    send = writer_process.WriterProcess._send

    def recording_send(self: Any, stdin: Any) -> None:
        batch = [m for m in self._pending if m[0] not in writer_process._CONFIRMS]
        if batch:
            batches.append(batch)
        send(self, stdin)

    writer_process.WriterProcess._send = recording_send  # type: ignore[method-assign]
    folder = tempfile.mkdtemp(prefix="writer-replay-")
    config = Config(executors=[HighThroughputExecutor(
        label="htex", max_workers_per_node=2,
        provider=LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1))],
        run_dir=os.path.join(folder, "runinfo"), strategy="none",
        monitoring=MonitoringHub(hub_address="127.0.0.1",
                                 logging_endpoint=f"sqlite:///{folder}/monitoring.db"))
    app = parsl.python_app(noop)
    with parsl.load(config) as dfk:
        for future in [app() for _ in range(tasks)]:
            future.result()
        run_id = dfk.run_id
    with open(path, "wb") as f:
        pickle.dump({"run_id": run_id, "tasks": tasks, "batches": batches}, f)
    print(f"recorded {sum(len(b) for b in batches)} messages in {len(batches)} batches "
          f"to {path}")


def replay(path: str, repeat: int) -> None:
    from parsl_monitoring import schema
    from parsl_monitoring import writer as writer_module
    from parsl_monitoring.kinds import BATCH

    with open(path, "rb") as f:
        recorded = pickle.load(f)
    run_id, tasks = recorded["run_id"], recorded["tasks"]
    # Each replay unpickles its own copy, as the writer process does (merging mutates).
    payloads = [pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL) for b in recorded["batches"]]
    driver_seconds = [0.0]
    execute = writer_module._Statements.execute

    def timed_execute(self: Any, sql: str, params: Any, table_name: str) -> int:
        started = time.process_time()
        try:
            return execute(self, sql, params, table_name)
        finally:
            driver_seconds[0] += time.process_time() - started

    writer_module._Statements.execute = timed_execute  # type: ignore[method-assign]
    totals: List[float] = []
    drivers: List[float] = []
    rows = 0
    for _ in range(repeat):
        url = f"sqlite:///{tempfile.mkdtemp(prefix='writer-replay-')}/monitoring.db"
        writer = writer_module.DatabaseWriter(url, run_id)
        writer.engine = writer_module.make_engine(url, writer.busy_timeout)
        schema.metadata.create_all(writer.engine)
        driver_seconds[0] = 0.0
        started = time.process_time()
        for index, payload in enumerate(payloads):
            writer._merge((BATCH, pickle.loads(payload)))
            if index % 2 == 1 or index == len(payloads) - 1:
                if not writer._write():
                    raise RuntimeError(f"the replay's write failed: {writer.error}")
        totals.append((time.process_time() - started) / tasks * 1e6)
        drivers.append(driver_seconds[0] / tasks * 1e6)
        rows = writer.rows_written
        writer.engine.dispose()
    print(f"writer CPU per task: min {min(totals):.1f} us, median "
          f"{statistics.median(totals):.1f} us (executemany: median "
          f"{statistics.median(drivers):.1f} us); {rows} rows per replay, {repeat} replays")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("record", "replay"))
    parser.add_argument("path")
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.action == "record":
        record(args.path, args.tasks)
    else:
        replay(args.path, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
