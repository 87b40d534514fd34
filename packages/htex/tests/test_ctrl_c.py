"""Ctrl-C with thousands of HTEX tasks in flight: a prompt exit that leaves nothing behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from htex_support import TESTS_DIR, wait_for

pytestmark = pytest.mark.slow

WORKFLOW = os.path.join(TESTS_DIR, "ctrl_c_workflow.py")
TASKS = 10_000
#: Generous for a loaded machine; an idle one exits in about a second.
EXIT_BOUND = 30.0


def _run_dir_processes(run_dir: str, interchange_pid: int) -> list:
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.info["cmdline"] or [])
            if run_dir in cmd or (p.pid == interchange_pid and "parsl_htex" in cmd):
                found.append(p)
        except psutil.Error:
            continue
    return found


def test_sigint_to_the_process_group_exits_promptly_failing_every_task(tmp_path):
    run_dir = str(tmp_path / "runinfo")
    # A session of its own, so the SIGINT below reaches exactly what a terminal's would.
    proc = subprocess.Popen([sys.executable, WORKFLOW, run_dir, str(TASKS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("started"), first + proc.stderr.read()
        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=EXIT_BOUND + 30)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert elapsed < EXIT_BOUND, f"exit took {elapsed:.1f} s"
    assert "unfinished 0" in out, out + err
    interchange_pid = int(first.split()[1])
    wait_for(lambda: not _run_dir_processes(run_dir, interchange_pid), timeout=20,
             what="every interchange, manager and worker process to exit")
