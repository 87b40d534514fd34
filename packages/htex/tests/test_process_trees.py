"""Processes that tasks start end with their task, their worker, their block and the run,
even when they escape with ``setsid``."""
from __future__ import annotations

import os
import signal
from typing import Any

import psutil
import pytest
from htex_support import WORKER_INIT, wait_for, worker_processes
from htex_test_tasks import detached_sleep_command, start_detached_sleep, start_orphaned_sleep

import parsl
from parsl.app.bash import remote_side_bash_executor
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

pytestmark = pytest.mark.slow


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _read_pid(path: str) -> Any:
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


@parsl.bash_app
def escape_then_check_on_retry(state_dir: str) -> str:
    """First try: start a setsid'ed sleep and wait for it. A retry records whether that
    sleep is still alive (``alive``/``gone``) and succeeds."""
    return (f"if [ -e {state_dir}/sleep.pid ]; then "
            f"  if kill -0 $(cat {state_dir}/sleep.pid) 2>/dev/null; then r=alive; else r=gone; fi;"
            f"  echo $r > {state_dir}/retry.txt; exit 0; "
            f"fi; "
            + detached_sleep_command(state_dir))


def test_killed_worker_reports_worker_lost_after_its_command_is_gone(tmp_path):
    ex = HighThroughputExecutor(label="htex", address="127.0.0.1", max_workers_per_node=1,
                                heartbeat_period=1, heartbeat_threshold=4,
                                provider=LocalProvider(init_blocks=1, max_blocks=1,
                                                       worker_init=WORKER_INIT))
    state = str(tmp_path)
    with parsl.load(Config(executors=[ex], retries=1, run_dir=str(tmp_path / "runinfo"))):
        fut = escape_then_check_on_retry(state)
        sleep_pid = wait_for(lambda: _read_pid(os.path.join(state, "sleep.pid")), timeout=60,
                             what="the command to start its sleep")
        worker = psutil.Process(psutil.Process(sleep_pid).ppid()).parent()
        assert "parsl_htex.worker" in " ".join(worker.cmdline())
        worker.send_signal(signal.SIGKILL)
        assert fut.result(timeout=60) == 0
        assert any("WorkerLost" in h for h in fut.task_record["fail_history"])
    with open(os.path.join(state, "retry.txt")) as f:
        assert f.read().strip() == "gone", "the first command outlived the worker's WorkerLost"


def test_cancelled_block_ends_the_bash_commands_of_its_tasks(make_htex, tmp_path):
    ex = make_htex()
    ex.submit(remote_side_bash_executor, {}, detached_sleep_command, str(tmp_path))
    sleep_pid = wait_for(lambda: _read_pid(os.path.join(tmp_path, "sleep.pid")), timeout=60,
                         what="the command to start its sleep")
    ex.provider.cancel(list(ex.blocks_to_job_id.values()))
    wait_for(lambda: _gone(sleep_pid), timeout=20, what="the setsid'ed sleep to end")


def test_killed_worker_ends_processes_its_python_apps_started(make_htex):
    ex = make_htex()
    started = ex.submit(start_detached_sleep, {}).result(timeout=60)
    assert not _gone(started["sleep"])
    os.kill(started["worker"], signal.SIGKILL)
    wait_for(lambda: _gone(started["sleep"]), timeout=20, what="the python app's sleep to end")


def test_run_end_ends_running_bash_commands(tmp_path):
    ex = HighThroughputExecutor(label="htex", address="127.0.0.1", max_workers_per_node=1,
                                provider=LocalProvider(init_blocks=1, max_blocks=1,
                                                       worker_init=WORKER_INIT))
    with parsl.load(Config(executors=[ex], run_dir=str(tmp_path / "runinfo"))):
        parsl.bash_app(detached_sleep_command)(str(tmp_path))
        sleep_pid = wait_for(lambda: _read_pid(os.path.join(tmp_path, "sleep.pid")),
                             timeout=60, what="the command to start its sleep")
    wait_for(lambda: _gone(sleep_pid), timeout=20, what="the setsid'ed sleep to end")


def test_killed_worker_spares_processes_another_worker_started(make_htex):
    ex = make_htex()
    started = ex.submit(start_orphaned_sleep, {}).result(timeout=60)
    sleep = psutil.Process(started["sleep"])
    other = next(w for w in worker_processes(ex, 2) if w.pid != started["worker"])
    other.kill()
    wait_for(lambda: len([w for w in worker_processes(ex, 2) if w.pid != other.pid]) == 2,
             what="a replacement for the killed worker")
    assert not _gone(sleep.pid), "a daemon of a live worker's task was killed"
    os.kill(started["worker"], signal.SIGKILL)
    wait_for(lambda: _gone(sleep.pid), timeout=20, what="the orphaned sleep to end")
