"""AppFuture behaves as a concurrent.futures.Future plus Parsl's task accessors."""
from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from parsl import python_app
from parsl.dataflow.futures import AppFuture


@python_app
def echo(x):
    return x


@python_app
def blocked_until(event, value=None):
    assert event.wait(10)
    return value


@python_app
def boom():
    raise ZeroDivisionError("bad division")


def test_app_future_is_a_concurrent_future(dfk):
    fut = echo(1)
    assert isinstance(fut, cf.Future)
    assert isinstance(fut, AppFuture)
    assert fut.result(timeout=10) == 1


def test_tid_task_id_and_task_record(dfk):
    first, second = echo(1), echo(2)
    assert second.tid == first.tid + 1
    assert second.task_id == second.tid
    assert second.task_record["id"] == second.tid
    assert second.task_record["func_name"] == "echo"
    second.result(timeout=10)


def test_result_timeout_raises_timeout_error(dfk):
    event = threading.Event()
    fut = blocked_until(event)
    with pytest.raises(cf.TimeoutError):
        fut.result(timeout=0.05)
    assert not fut.done()
    event.set()
    assert fut.result(timeout=10) is None
    assert fut.done()


def test_exception_returns_the_exception_without_raising(dfk):
    fut = boom()
    exc = fut.exception(timeout=10)
    assert isinstance(exc, ZeroDivisionError)
    with pytest.raises(ZeroDivisionError, match="bad division"):
        fut.result()


def test_concurrent_futures_wait_and_as_completed_work(dfk):
    event = threading.Event()
    slow = blocked_until(event, "slow")
    fast = [echo(i) for i in range(5)]
    done, not_done = cf.wait(fast, timeout=10)
    assert set(done) == set(fast) and not not_done
    event.set()
    results = {f.result() for f in cf.as_completed([slow, *fast], timeout=10)}
    assert results == {"slow", 0, 1, 2, 3, 4}


def test_done_callbacks_run_once_with_the_future(dfk):
    seen = []
    fut = echo("x")
    fut.add_done_callback(seen.append)
    fut.result(timeout=10)
    fut.add_done_callback(seen.append)
    assert seen == [fut, fut]


def test_cancel_pending_task_fails_its_dependents(dfk):
    gate: cf.Future = cf.Future()
    waiting = echo(gate)
    dependent = echo(waiting)
    assert waiting.cancel() is True
    assert waiting.cancelled() and waiting.done()
    with pytest.raises(cf.CancelledError):
        waiting.result()
    gate.set_result(1)
    with pytest.raises(Exception, match="cancelled"):
        dependent.result(timeout=10)


def test_cancel_running_or_done_task_returns_false(dfk):
    started, release = threading.Event(), threading.Event()

    @python_app
    def running_app():
        started.set()
        assert release.wait(10)

    running = running_app()
    finished = echo(1)
    finished.result(timeout=10)
    assert started.wait(10)
    assert finished.cancel() is False
    assert running.cancel() is False
    release.set()
    running.result(timeout=10)


def test_stdout_and_stderr_properties_give_paths(dfk, tmp_path):
    @python_app
    def noop(stdout=None, stderr=None):
        return None

    fut = noop(stdout=str(tmp_path / "o"), stderr=(str(tmp_path / "e"), "w"))
    assert fut.stdout == str(tmp_path / "o")
    assert fut.stderr == (str(tmp_path / "e"), "w")


def test_repr_names_task_and_app(dfk):
    fut = echo(1)
    fut.result(timeout=10)
    assert f"task_id={fut.tid}" in repr(fut) and "echo" in repr(fut)
