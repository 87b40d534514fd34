"""Failures and shutdown with real managers, factories and workers (TaskVine; the
script-level exits also for Work Queue)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from typing import Any, Callable

import psutil
import pytest
import tv_apps
from tv_helpers import assert_nothing_left, cctools_processes, free_port, wait_for

from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig
from parsl.executors.taskvine.errors import TaskVineManagerFailure

pytestmark = pytest.mark.timeout(240)


def factory_executor(port: int, **manager: Any) -> TaskVineExecutor:
    return TaskVineExecutor(
        manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1", **manager),
        factory_config=TaskVineFactoryConfig(cores=2, worker_timeout=60))


def workers(port: int) -> list[psutil.Process]:
    """The worker processes (worker and its transfer server) serving ``port``."""
    return [p for p in cctools_processes(port) if p.name().startswith("vine_worker")]


def kill_worker_and_its_tasks(port: int) -> None:
    """Like a node failing: the worker, its transfer server and its task processes die."""
    victims = wait_for(lambda: workers(port), 30, "the worker")
    for p in victims:
        try:
            victims += p.children(recursive=True)
        except psutil.Error:
            pass
    for p in victims:
        try:
            p.kill()
        except psutil.Error:
            pass


def test_worker_killed_mid_task_is_retried_on_a_new_worker(load_config: Callable[..., Any],
                                                            tmp_path: Any) -> None:
    port = free_port()
    load_config(factory_executor(port))
    marker = str(tmp_path / "attempts")
    future = tv_apps.slow_then_value(marker, 120)
    wait_for(lambda: os.path.exists(marker), 90, "the task to start")
    kill_worker_and_its_tasks(port)
    assert future.result(timeout=120) == 2


def test_killed_manager_process_fails_pending_tasks_with_the_reason(
        load_config: Callable[..., Any]) -> None:
    port = free_port()
    ex = factory_executor(port)
    load_config(ex)
    future = tv_apps.sleep_for(120)
    assert ex._manager is not None and ex._manager.proc is not None
    manager_pid = ex._manager.proc.pid
    wait_for(lambda: workers(port), 60, "the worker")
    os.kill(manager_pid, signal.SIGKILL)
    with pytest.raises(TaskVineManagerFailure, match="killed by signal 9"):
        future.result(timeout=30)
    with pytest.raises(TaskVineManagerFailure, match="killed by signal 9"):
        tv_apps.double(1).result(timeout=30)
    assert_nothing_left(port, [manager_pid], timeout=30)


def test_cleanup_with_a_running_task_returns_quickly_and_leaves_nothing(
        load_config: Callable[..., Any]) -> None:
    port = free_port()
    ex = factory_executor(port)
    dfk = load_config(ex)
    future = tv_apps.sleep_for(120)
    wait_for(lambda: workers(port), 60, "the worker")
    assert ex._manager is not None and ex._manager.proc is not None
    manager_pid = ex._manager.proc.pid
    started = time.monotonic()
    dfk.cleanup()
    assert time.monotonic() - started < 15
    with pytest.raises(TaskVineManagerFailure, match="shut down before the task finished"):
        future.result(timeout=5)
    assert_nothing_left(port, [manager_pid])


def test_port_in_use_fails_start_naming_the_port(run_dir: str) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ex = factory_executor(port)
        ex.run_dir = run_dir
        with pytest.raises(TaskVineManagerFailure, match=str(port)):
            ex.start()
    assert_nothing_left(port)


_SCRIPT = """
import os, sys, time
import parsl
from parsl.config import Config
from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig
import tv_apps

port = int(sys.argv[1])
if sys.argv[4] == "taskvine":
    executor = TaskVineExecutor(
        manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1"),
        factory_config=TaskVineFactoryConfig(cores=2, worker_timeout=60))
else:
    from parsl.executors import WorkQueueExecutor
    from parsl.providers import LocalProvider
    executor = WorkQueueExecutor(port=port, address="127.0.0.1",
                                 provider=LocalProvider(init_blocks=1, max_blocks=1))
parsl.load(Config(run_dir=sys.argv[2], executors=[executor]))
marker = sys.argv[2] + ".started"
future = tv_apps.slow_then_value(marker, 300)
while not os.path.exists(marker):
    time.sleep(0.1)
print("task running", flush=True)
if sys.argv[3] == "wait":
    future.result()
"""


def run_script(tmp_path: Any, port: int, mode: str, kind: str) -> subprocess.Popen[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    return subprocess.Popen([sys.executable, str(script), str(port), str(tmp_path / "runinfo"),
                             mode, kind], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["taskvine", "workqueue"])
def test_script_ending_without_cleanup_exits_and_leaves_nothing(tmp_path: Any,
                                                                kind: str) -> None:
    port = free_port()
    proc = run_script(tmp_path, port, "end", kind)
    try:
        wait_for(lambda: os.path.exists(str(tmp_path / "runinfo.started")), 120,
                 "the task to start")
        proc.wait(30)  # raises TimeoutExpired if the interpreter hangs at exit
    finally:
        proc.kill()
    output = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == 0 and "task running" in output, output
    assert_nothing_left(port)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["taskvine", "workqueue"])
def test_ctrl_c_with_a_running_task_exits_and_leaves_nothing(tmp_path: Any, kind: str) -> None:
    port = free_port()
    proc = run_script(tmp_path, port, "wait", kind)
    try:
        wait_for(lambda: os.path.exists(str(tmp_path / "runinfo.started")), 120,
                 "the task to start")
        proc.send_signal(signal.SIGINT)
        proc.wait(30)  # raises TimeoutExpired if Ctrl-C leaves the script hanging
    finally:
        proc.kill()
    output = proc.stdout.read() if proc.stdout else ""
    assert "KeyboardInterrupt" in output
    assert_nothing_left(port)


def test_memory_over_the_limit_fails_naming_memory(load_config: Callable[..., Any]) -> None:
    """The first task with a memory limit turns the resource monitor on, with the worker
    already connected (a task without limits ran before)."""
    from parsl.executors.taskvine.errors import TaskVineTaskFailure

    load_config(factory_executor(free_port()))
    assert tv_apps.double(1).result(timeout=90) == 2
    spec = {"cores": 1, "memory": 60, "disk": 100}
    with pytest.raises(TaskVineTaskFailure, match="exceeded its memory") as info:
        tv_apps.allocate_mb(300, parsl_resource_specification=spec).result(timeout=90)
    assert "worker" in str(info.value)


def test_autolabel_algorithm_sets_the_category_allocation_mode(
        load_config: Callable[..., Any]) -> None:
    """TaskVine's transaction log records each category's allocation mode."""
    import glob

    ex = factory_executor(free_port(), autolabel=True, autolabel_algorithm="bucketing",
                          autolabel_window=2)
    load_config(ex)
    assert tv_apps.double(5).result(timeout=90) == 10
    logs = glob.glob(os.path.join(ex.executor_dir, "vine-logs", "**", "transactions"),
                     recursive=True)
    assert logs, f"no transactions log under {ex.executor_dir}"
    with open(logs[0]) as f:
        text = f.read()
    assert "CATEGORY double FIRST EXHAUSTIVE_BUCKETING" in text, text[-2000:]


def test_tasks_without_resources_keep_running_after_their_category_was_measured(
        load_config: Callable[..., Any]) -> None:
    """cctools 7.17.1 sizes a task that asks for nothing from its app's smallest sandbox
    seen (here 3 MB), and its resource monitor killed the next such task for exceeding a
    3 MB memory box. A run that sets no memory or disk limit is never monitored, so it is
    not hit."""
    load_config(factory_executor(free_port()))
    assert [tv_apps.write_mb(3, 6).result(timeout=90) for _ in range(3)] == [3] * 3
