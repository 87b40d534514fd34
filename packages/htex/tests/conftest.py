"""Fixtures that run a real HighThroughputExecutor on this machine.

Every executor here has a real interchange process, a real LocalProvider block with a
real manager and worker processes, all talking over loopback TCP and pipes.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Iterator, List

import psutil
import pytest

from parsl.providers.local.local import LocalProvider
from parsl_htex.executor import HighThroughputExecutor

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
# The tests here import this module's helpers as ``htex_conftest``: every package's test
# folder has a conftest.py, so the plain name ``conftest`` is ambiguous in a whole-suite run.
sys.modules["htex_conftest"] = sys.modules[__name__]
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


@pytest.fixture
def make_htex(tmp_path: Any) -> Iterator[Callable[..., HighThroughputExecutor]]:
    """Build, start and scale out an executor; shut it down and check nothing is left."""
    made: List[HighThroughputExecutor] = []

    def factory(scale_out: bool = True, **kwargs: Any) -> HighThroughputExecutor:
        run_dir = str(tmp_path / f"run{len(made)}")
        os.makedirs(os.path.join(run_dir, "submit_scripts"), exist_ok=True)
        kwargs.setdefault("address", "127.0.0.1")
        kwargs.setdefault("max_workers_per_node", 2)
        kwargs.setdefault("heartbeat_period", 1)
        kwargs.setdefault("heartbeat_threshold", 4)
        kwargs.setdefault("provider", LocalProvider(init_blocks=1, max_blocks=1,
                                                   worker_init=WORKER_INIT))
        ex = HighThroughputExecutor(label="htex", **kwargs)
        ex.run_dir = run_dir
        ex.provider.script_dir = os.path.join(run_dir, "submit_scripts")
        made.append(ex)
        ex.start()
        if scale_out:
            ex.scale_out_facade(1)
        return ex

    yield factory
    for ex in made:
        ex.shutdown()
        wait_for(lambda ex=ex: not htex_processes(ex.run_dir, ex), timeout=20,
                 what="every HTEX process to exit after shutdown")
