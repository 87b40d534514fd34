"""An interchange that is alive but not answering (SIGSTOP) is noticed, and forgiven if it
comes back in time."""
from __future__ import annotations

import os
import signal
import time

import pytest
from htex_support import manager_process, wait_for
from htex_test_tasks import sleep_then_return

from parsl_htex.errors import InterchangeLost

pytestmark = pytest.mark.slow


def _task_dispatched(ex) -> None:
    manager_process(ex)
    wait_for(lambda: any(m["tasks"] for m in ex.connected_managers()), what="task dispatch")


def test_stopped_interchange_fails_outstanding_tasks_after_the_liveness_timeout(make_htex):
    ex = make_htex(interchange_liveness_timeout=3)
    fut = ex.submit(sleep_then_return, {}, 60)
    _task_dispatched(ex)
    os.kill(ex.interchange_proc.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    with pytest.raises(InterchangeLost, match="answered no liveness check for 3 s"):
        fut.result(timeout=30)
    assert time.monotonic() - stopped >= 3
    wait_for(lambda: ex.interchange_proc.poll() is not None, timeout=10,
             what="the unresponsive interchange to be killed")
    with pytest.raises(InterchangeLost):
        ex.submit(sleep_then_return, {}, 0)


def test_interchange_stopped_for_less_than_the_timeout_recovers(make_htex):
    ex = make_htex(interchange_liveness_timeout=10)
    fut = ex.submit(sleep_then_return, {}, 1, "finished")
    _task_dispatched(ex)
    pid = ex.interchange_proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(3)  # the frozen time itself: longer than one ping period (2.5 s)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert fut.result(timeout=30) == "finished"
    assert not ex.bad_state_is_set
    assert ex.submit(sleep_then_return, {}, 0, "again").result(timeout=30) == "again"


def test_non_positive_liveness_timeout_is_refused_at_construction():
    from parsl.errors import BadParameter
    from parsl_htex.executor import HighThroughputExecutor

    with pytest.raises(BadParameter, match="interchange_liveness_timeout"):
        HighThroughputExecutor(interchange_liveness_timeout=0)
