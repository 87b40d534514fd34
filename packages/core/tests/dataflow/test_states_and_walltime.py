"""Task states as Parsl names them, state counts, and python-app walltime."""
from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import pytest

import parsl
from parsl.app.errors import AppTimeout
from parsl.dataflow.states import FINAL_FAILURE_STATES, FINAL_STATES, States


@parsl.python_app
def identity(x):
    return x


@parsl.python_app
def fail():
    raise ValueError("x")


def test_state_names_and_values_match_parsl():
    expected = {"unsched": -1, "pending": 0, "running": 2, "exec_done": 3, "failed": 4,
                "dep_fail": 5, "launched": 7, "fail_retryable": 8, "memo_done": 9,
                "joining": 10, "running_ended": 11}
    assert {s.name: s.value for s in States} == expected
    assert FINAL_STATES == {States.exec_done, States.memo_done, States.failed, States.dep_fail}
    assert FINAL_FAILURE_STATES == {States.failed, States.dep_fail}


def test_task_state_counts_track_pending_done_and_failed(dfk):
    gate: cf.Future = cf.Future()
    waiting = [identity(gate) for _ in range(3)]
    done = identity(1)
    failed = fail()
    dep_failed = identity(failed)
    done.result(timeout=10)
    dep_failed.exception(timeout=10)
    counts = dfk.task_state_counts
    assert counts[States.pending] == 3
    assert counts[States.exec_done] == 1
    assert counts[States.failed] == 1
    assert counts[States.dep_fail] == 1
    gate.set_result(0)
    for fut in waiting:
        fut.result(timeout=10)
    assert dfk.task_state_counts[States.exec_done] == 4
    assert dfk.task_state_counts[States.pending] == 0


def test_garbage_collect_forgets_finished_tasks(dfk):
    futures = [identity(i) for i in range(50)]
    for fut in futures:
        fut.result(timeout=10)
    assert not any(f.tid in dfk.tasks for f in futures)
    assert futures[0].task_record.status == States.exec_done


def test_python_app_walltime_raises_app_timeout(dfk):
    @parsl.python_app
    def spin(walltime=None):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pass
        return "finished"

    start = time.monotonic()
    with pytest.raises(AppTimeout, match="walltime"):
        spin(walltime=0.3).result(timeout=10)
    assert time.monotonic() - start < 5


def test_python_app_within_walltime_returns_result(dfk):
    @parsl.python_app
    def quick(walltime=5):
        return threading.current_thread().name

    assert quick().result(timeout=10).startswith("parsl-")
