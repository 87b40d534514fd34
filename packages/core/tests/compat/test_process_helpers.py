"""Parsl's process helpers: ``parsl.multiprocessing`` and ``parsl.executors.execute_task``."""
from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from parsl.executors.execute_task import execute_task
from parsl.multiprocessing import SpawnEvent, SpawnProcess, SpawnQueue, join_terminate_close_proc
from parsl.serialize import pack_apply_message, pack_res_spec_apply_message


def _greet(*numbers: int, name: str = "apples") -> str:
    return f"{sum(numbers)} {name}"


def _read_env(name: str) -> Any:
    return os.environ.get(name)


def _fail() -> None:
    raise KeyError("missing")


def test_execute_task_runs_a_packed_call() -> None:
    assert execute_task(pack_apply_message(_greet, (1, 2, 3), {"name": "boots"})) == "6 boots"


def test_execute_task_exports_the_resource_specification(monkeypatch) -> None:
    monkeypatch.delenv("PARSL_NUM_NODES", raising=False)
    message = pack_res_spec_apply_message(_read_env, ("PARSL_NUM_NODES",), {},
                                          {"num_nodes": 2})
    try:
        assert execute_task(message) == "2"
    finally:
        os.environ.pop("PARSL_NUM_NODES", None)


def test_execute_task_lets_the_task_exception_through() -> None:
    with pytest.raises(KeyError, match="missing"):
        execute_task(pack_apply_message(_fail, (), {}))


def _put(queue: Any) -> None:
    queue.put(os.getpid())


def _ignore_sigterm_forever(started: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    started.set()
    while True:
        time.sleep(0.05)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_spawned_process_and_queue_carry_a_value_back() -> None:
    queue = SpawnQueue()
    process = SpawnProcess(target=_put, args=(queue,))
    process.start()
    child = queue.get(timeout=60)
    join_terminate_close_proc(process, timeout=30)
    assert child != os.getpid()


def test_join_terminate_close_proc_kills_a_process_that_ignores_sigterm() -> None:
    started = SpawnEvent()
    process = SpawnProcess(target=_ignore_sigterm_forever, args=(started,))
    process.start()
    assert started.wait(60), "the child never started"
    pid = process.pid
    assert pid is not None
    join_terminate_close_proc(process, timeout=0.5)
    assert not _exists(pid)
    with pytest.raises(ValueError):
        process.is_alive()  # closed: its resources are released
