"""HTEX no-op throughput with and without monitoring, for this project and for real Parsl.

Each measurement is a fresh Python process (this script with ``--child``) that loads an
HTEX config with 2 local workers, warms up, then times ``--tasks`` no-op apps end to end
(submit to last result), and the CPU per task of each process while they ran
(``cpu_us``) and, for this project, the writer's once it has committed everything
(``writer_total_us``: it runs at nice 19, so part of its work waits for the CPU to be
free). Modes: ``off`` (no monitoring), ``nores`` (MonitoringHub with
resource monitoring off), ``res`` (MonitoringHub with resource monitoring at its default
interval). The same child code runs under both interpreters, so the ratios compare like
with like. With ``--check`` the child also counts the task and status rows afterwards
(ours writes 5 status rows per HTEX task: pending, launched, running, running_ended,
exec_done) and times parsl-visualize's run page, its JSON and the dependency graph page
over the resulting database (server-side time, through Flask's test client).

    python packages/monitoring/benchmarks/monitoring_overhead.py --tasks 5000 --repeat 3
    python packages/monitoring/benchmarks/monitoring_overhead.py --tasks 100000 \\
        --impls ours --modes res --repeat 1 --check
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
from typing import Any, Dict, List

REAL_PARSL_PYTHON = "/work/venv-realparsl/bin/python"


def noop() -> None:
    return None


def _role(proc: Any, roles: Dict[int, str]) -> str:
    """What a process of the run is, from its command line (workers: a pool's children)."""
    try:
        cmdline = " ".join(proc.cmdline())
    except Exception:
        return "other"
    if "writer_process" in cmdline:
        return "writer"
    if "interchange" in cmdline:
        return "interchange"
    if roles.get(proc.ppid()) in ("pool", "worker"):
        return "worker"
    if "process_worker_pool" in cmdline:
        return "pool"
    return "other"


def cpu_by_role() -> Dict[str, float]:
    """CPU seconds so far of this process and of each role among its descendants: a
    figure that a shared machine's load disturbs much less than a rate does."""
    import psutil

    me = psutil.Process()
    totals: Dict[str, float] = {"submit": sum(me.cpu_times()[:2])}
    roles: Dict[int, str] = {me.pid: "submit"}
    for proc in me.children(recursive=True):  # parents come before their children
        try:
            role = _role(proc, roles)
            roles[proc.pid] = role
            totals[role] = totals.get(role, 0.0) + sum(proc.cpu_times()[:2])
        except Exception:  # the process ended while we looked
            continue
    return totals


def child(mode: str, tasks: int, folder: str, check: bool) -> Dict[str, Any]:
    import parsl
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    monitoring = None
    db = os.path.join(folder, "monitoring.db")
    if mode != "off":
        from parsl.monitoring import MonitoringHub

        monitoring = MonitoringHub(hub_address="127.0.0.1", logging_endpoint=f"sqlite:///{db}",
                                   resource_monitoring_enabled=(mode == "res"))
    config = Config(executors=[HighThroughputExecutor(
        label="htex", max_workers_per_node=2,
        provider=LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1))],
        run_dir=os.path.join(folder, "runinfo"), monitoring=monitoring, strategy="none")
    app = parsl.python_app(noop)
    with parsl.load(config) as dfk:
        for f in [app() for _ in range(200)]:
            f.result()
        cpu_before = cpu_by_role()
        start = time.perf_counter()
        futures = [app() for _ in range(tasks)]
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - start
        cpu_after = cpu_by_role()
        run_id = dfk.run_id
        writer_total = None
        writer = getattr(monitoring, "writer", None)  # this project's hub only
        if writer is not None:
            # The writer runs at nice 19: what it did not get to while the tasks ran it
            # does now. Its CPU once everything is committed is its whole cost.
            if writer.sync(600):
                writer_total = round((cpu_by_role()["writer"] - cpu_before["writer"])
                                     / tasks * 1e6)
    # CPU microseconds per task, by process role, while the tasks ran (the writer's
    # backlog after the last result is not in it: see writer_total_us).
    cpu_us = {role: round((cpu_after[role] - cpu_before.get(role, 0.0)) / tasks * 1e6)
              for role in cpu_after}
    result: Dict[str, Any] = {"rate": tasks / elapsed, "seconds": elapsed, "cpu_us": cpu_us}
    if writer_total is not None:
        result["writer_total_us"] = writer_total
    if check and monitoring is not None:
        import sqlite3

        conn = sqlite3.connect(db)
        result["task_rows"] = conn.execute("SELECT count(*) FROM task WHERE run_id = ?",
                                           (run_id,)).fetchone()[0]
        result["status_rows"] = conn.execute("SELECT count(*) FROM status WHERE run_id = ?",
                                             (run_id,)).fetchone()[0]
        result["status_by_state"] = dict(conn.execute(
            "SELECT task_status_name, count(*) FROM status WHERE run_id = ? GROUP BY 1",
            (run_id,)).fetchall())
        try:
            from parsl_monitoring.visualize import create_app
        except ImportError:  # real Parsl's environment
            return result
        client = create_app(f"sqlite:///{db}").test_client()
        for name, path in (("run_page_s", f"/workflow/{run_id}/"),
                           ("run_json_s", f"/workflow/{run_id}/data.json"),
                           ("dag_page_s", f"/workflow/{run_id}/dag")):
            started = time.perf_counter()
            response = client.get(path)
            result[name] = round(time.perf_counter() - started, 3)
            assert response.status_code == 200, (path, response.status_code)
    return result


def measure(python: str, mode: str, tasks: int, check: bool) -> Dict[str, Any]:
    env = dict(os.environ)
    # Parsl starts its interchange and worker pool by script name from PATH.
    env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
    with tempfile.TemporaryDirectory(prefix="monitoring-bench-") as folder:
        proc = subprocess.run([python, os.path.abspath(__file__), "--child", mode,
                               "--tasks", str(tasks), "--folder", folder]
                              + (["--check"] if check else []),
                              capture_output=True, text=True, timeout=3600, cwd=folder,
                              check=False, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{python} {mode} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result: Dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--impls", default="ours,parsl")
    parser.add_argument("--modes", default="off,nores,res")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--child", default=None)
    parser.add_argument("--folder", default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tasks, args.folder, args.check)), flush=True)
        return 0
    pythons = {"ours": sys.executable, "parsl": REAL_PARSL_PYTHON}
    rates: Dict[str, Dict[str, List[float]]] = {}
    # Modes are interleaved within each repetition, so a shared machine's changing load
    # hits every mode alike.
    for _ in range(args.repeat):
        for impl in args.impls.split(","):
            for mode in args.modes.split(","):
                result = measure(pythons[impl], mode, args.tasks, args.check)
                rates.setdefault(impl, {}).setdefault(mode, []).append(result["rate"])
                extra = {k: v for k, v in result.items() if k not in ("rate", "seconds")}
                print(f"{impl:6} {mode:6} {result['rate']:9.0f} tasks/s "
                      f"({result['seconds']:.1f} s) {extra or ''}", flush=True)
    print("\nmedians (tasks/s) and ratio to 'off':")
    for impl, by_mode_rates in rates.items():
        by_mode = {mode: statistics.median(r) for mode, r in by_mode_rates.items()}
        base = by_mode.get("off")
        for mode, rate in by_mode.items():
            ratio = f"{rate / base:6.0%}" if base else "   n/a"
            print(f"  {impl:6} {mode:6} {rate:9.0f}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
