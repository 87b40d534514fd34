"""Helpers the HTEX tests import by name (``from htex_support import wait_for``).

They live here rather than in conftest.py because every package's test folder has a
conftest.py, so the plain name ``conftest`` is ambiguous in a whole-suite run, and because
workers (which get this folder on PYTHONPATH through :data:`WORKER_INIT`) must be able to
import whatever a task function refers to.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, List

import psutil

from parsl_htex.executor import HighThroughputExecutor

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
#: Lets workers import htex_test_tasks by name.
WORKER_INIT = f"export PYTHONPATH={TESTS_DIR}:${{PYTHONPATH:-}}"


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def htex_processes(run_dir: str, ex: HighThroughputExecutor) -> List[psutil.Process]:
    """Live processes belonging to this executor: interchange, managers, workers."""
    found = []
    ic = ex.interchange_proc
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.info["cmdline"] or [])
            if (ic is not None and p.pid == ic.pid) or (run_dir in cmd and "parsl_htex" in cmd) \
                    or (run_dir in cmd and "process_worker_pool" in cmd):
                found.append(p)
        except psutil.Error:
            continue
    return found


def manager_process(ex: HighThroughputExecutor) -> psutil.Process:
    managers = wait_for(ex.connected_managers, what="a manager to register")
    return psutil.Process(managers[0]["pid"])


def worker_processes(ex: HighThroughputExecutor, count: int) -> List[psutil.Process]:
    manager = manager_process(ex)

    def workers() -> List[psutil.Process]:
        kids = [c for c in manager.children() if "parsl_htex.worker" in " ".join(c.cmdline())]
        return kids if len(kids) >= count else []

    return list(wait_for(workers, what=f"{count} workers"))
