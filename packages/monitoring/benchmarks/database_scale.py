"""How the monitoring database and parsl-visualize hold up at 100,000 to 1,000,000 tasks.

Builds a synthetic SQLite database with the real schema and indexes
(:mod:`parsl_monitoring.schema`), quickly, with ``executemany``: one run of ``--tasks``
tasks of a few apps, each with a try, the five status rows an HTEX task gets (pending,
launched, running, running_ended, exec_done; 1% of tasks fail instead), a resource sample,
and a chain of dependencies; plus a small second run, so per-run filters matter. Then
times, server-side (Flask's test client), the run page, its JSON, the dependency graph
and a task's page, and each per-run and per-task query on its own, and checks with
``EXPLAIN QUERY PLAN`` that per-task queries search an index instead of scanning.

    python packages/monitoring/benchmarks/database_scale.py --tasks 100000
    python packages/monitoring/benchmarks/database_scale.py --tasks 1000000 --keep /tmp/m.db
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

RUN = "big-run"
OTHER = "small-run"
APPS = ("simulate", "analyse", "plot", "fetch")
STATES = ("pending", "launched", "running", "running_ended", "exec_done")


def _stamp(epoch: float) -> str:
    """SQLAlchemy's SQLite DateTime text."""
    second = int(epoch)
    return (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
            + f".{int((epoch - second) * 1e6):06d}")


def build(path: str, tasks: int) -> float:
    """Create the database at ``path``; return the seconds it took."""
    import sqlalchemy as sa

    from parsl_monitoring import schema

    started = time.perf_counter()
    engine = sa.create_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    begin = time.time() - tasks / 1000.0
    for run_id, count in ((RUN, tasks), (OTHER, 1000)):
        conn.execute("INSERT INTO workflow (run_id, workflow_name, workflow_version, "
                     "time_began, time_completed, host, user, rundir, tasks_failed_count, "
                     "tasks_completed_count, messages_lost) VALUES (?,?,?,?,?,?,?,?,?,?,0)",
                     (run_id, "scale", "1", _stamp(begin), _stamp(begin + count / 1000 + 5),
                      "host", "user", "/tmp", count // 100, count - count // 100))
        for chunk in _chunks(range(count), 50_000):
            _insert_tasks(conn, run_id, chunk, begin)
        conn.commit()
    conn.close()
    return time.perf_counter() - started


def _chunks(items: range, size: int) -> Iterator[range]:
    for start in range(items.start, items.stop, size):
        yield range(start, min(start + size, items.stop))


def _insert_tasks(conn: sqlite3.Connection, run_id: str, ids: range, begin: float) -> None:
    task_rows: List[Tuple[Any, ...]] = []
    try_rows: List[Tuple[Any, ...]] = []
    status_rows: List[Tuple[Any, ...]] = []
    resource_rows: List[Tuple[Any, ...]] = []
    for i in ids:
        t0 = begin + i / 1000.0
        failed = i % 100 == 99
        final = "failed" if failed else "exec_done"
        app = APPS[i % len(APPS)]
        history = (f"Traceback (most recent call last):\nValueError: task {i} failed\n"
                   if failed else None)
        task_rows.append((i, run_id, str(i - 1) if i % 10 else None, app, "False",
                          _stamp(t0), _stamp(t0 + 0.05), 1 if failed else 0, 0.0, final,
                          "htex", history))
        try_rows.append((0, i, run_id, "0", "node1", "htex", _stamp(t0 + 0.001),
                         _stamp(t0 + 0.01), _stamp(t0 + 0.05), history, f"w-{i % 8}", i))
        for k, state in enumerate((*STATES[:-1], final)):
            status_rows.append((i, state, _stamp(t0 + k * 0.01), run_id, 0))
        resource_rows.append((0, i, run_id, _stamp(t0 + 0.04), 30.0, 1000 + i % 8,
                              0.5, 0.0, 0.01, 0.001, 2e8, 5e7, 0.0, 0.0, "running", "0",
                              1.0, 2.0, 1, 50.0 + i % 50, 5.5e7))
    conn.executemany("INSERT INTO task (task_id, run_id, task_depends, task_func_name, "
                     "task_memoize, task_time_invoked, task_time_returned, task_fail_count, "
                     "task_fail_cost, task_status_name, task_executor, task_fail_history) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", task_rows)
    conn.executemany("INSERT INTO try (try_id, task_id, run_id, block_id, hostname, "
                     "task_executor, task_try_time_launched, task_try_time_running, "
                     "task_try_time_returned, task_fail_history, worker_id, executor_task_id) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", try_rows)
    conn.executemany("INSERT INTO status (task_id, task_status_name, timestamp, run_id, "
                     "try_id) VALUES (?,?,?,?,?)", status_rows)
    conn.executemany(
        "INSERT INTO resource (try_id, task_id, run_id, timestamp, "
        "resource_monitoring_interval, psutil_process_pid, psutil_process_memory_percent, "
        "psutil_process_children_count, psutil_process_time_user, "
        "psutil_process_time_system, psutil_process_memory_virtual, "
        "psutil_process_memory_resident, psutil_process_disk_read, "
        "psutil_process_disk_write, psutil_process_status, psutil_cpu_num, "
        "psutil_process_num_ctx_switches_voluntary, "
        "psutil_process_num_ctx_switches_involuntary, "
        "final, psutil_process_cpu_percent, psutil_process_memory_peak) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", resource_rows)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


#: Per-task queries users and the task page run; each must search an index.
PER_TASK_SQL = {
    "task row": "SELECT * FROM task WHERE run_id = ? AND task_id = ?",
    "task's tries": "SELECT * FROM try WHERE run_id = ? AND task_id = ?",
    "task's status rows": "SELECT * FROM status WHERE run_id = ? AND task_id = ? "
                          "ORDER BY timestamp",
    "task's resource rows": "SELECT * FROM resource WHERE run_id = ? AND task_id = ? "
                            "ORDER BY timestamp",
}


def measure(path: str, tasks: int, repeat: int) -> Dict[str, float]:
    from sqlalchemy import create_engine

    from parsl_monitoring.visualize import create_app, queries

    results: Dict[str, float] = {}
    task_id = random.Random(1).randrange(tasks)
    conn = sqlite3.connect(path)
    for name, sql in PER_TASK_SQL.items():
        plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql,
                                                          (RUN, task_id)))
        if "SCAN" in plan.replace("SCAN CONSTANT", ""):
            raise SystemExit(f"per-task query {name!r} scans a table: {plan}")
        results[f"sql {name}"] = timed(lambda s=sql: conn.execute(s, (RUN, task_id)).fetchall(),
                                       repeat)
    conn.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        for name in ("state_counts", "apps_by_state", "states_over_time", "task_stream",
                     "failures", "resources_by_app", "blocks_and_nodes", "dependency_graph"):
            fn = getattr(queries, name)
            results[f"query {name}"] = timed(lambda f=fn: f(c, RUN), repeat)
    engine.dispose()
    pages = (("page run", f"/workflow/{RUN}/"),
             ("page run JSON", f"/workflow/{RUN}/data.json"),
             ("page dependency graph", f"/workflow/{RUN}/dag"),
             ("page task", f"/workflow/{RUN}/task/{task_id}"),
             ("page runs", "/"))
    for name, url in pages:
        def get(u: str = url, client: Any = None) -> None:
            response = client.get(u)
            if response.status_code != 200:
                raise SystemExit(f"{u}: HTTP {response.status_code}")

        # A fresh server each time: the first view of a finished run computes everything;
        # later views of it come from the server's cache.
        results[f"{name} (first view)"] = timed(
            lambda g=get: g(client=create_app(f"sqlite:///{path}").test_client()), repeat)
        client = create_app(f"sqlite:///{path}").test_client()
        get(client=client)
        results[f"{name} (again)"] = timed(lambda g=get, c=client: g(client=c), repeat)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", default=None, help="database path to build (and keep)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="monitoring-scale-")
    path = args.keep or os.path.join(folder, "monitoring.db")
    if not os.path.exists(path):
        seconds = build(path, args.tasks)
        print(f"built {args.tasks:,} tasks ({args.tasks * 8:,} rows) in {seconds:.1f} s: "
              f"{path} ({os.path.getsize(path) / 2**20:.0f} MiB)", flush=True)
    for name, seconds in measure(path, args.tasks, args.repeat).items():
        print(f"  {name:32} {seconds * 1000:9.1f} ms (median of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
