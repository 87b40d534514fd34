"""Retries: the budget, custom failure costs, and the record of every try."""
from __future__ import annotations

import os

import pytest

import parsl
from parsl import python_app
from parsl.config import Config
from parsl.executors.threads import ThreadPoolExecutor


@python_app
def fail_until(marker: str, succeed_on_try: int, error: str = "ValueError") -> int:
    """Fail with ``error`` until this is the ``succeed_on_try``-th run (counting from 1)."""
    with open(marker, "a") as f:
        f.write("try\n")
    with open(marker) as f:
        tries = sum(1 for _ in f)
    if tries < succeed_on_try:
        raise {"ValueError": ValueError, "KeyError": KeyError}[error](f"try {tries}")
    return tries


def _load(run_dir: str, **config: object) -> parsl.DataFlowKernel:
    return parsl.load(Config(executors=[ThreadPoolExecutor(label="pool", max_threads=2)],
                             run_dir=run_dir, **config))  # type: ignore[arg-type]


def _tries(marker: str) -> int:
    with open(marker) as f:
        return sum(1 for _ in f)


def test_transient_failure_is_retried_until_success(run_dir, tmp_path):
    _load(run_dir, retries=2)
    marker = str(tmp_path / "transient")
    assert fail_until(marker, 3).result(timeout=10) == 3


def test_failure_beyond_retry_budget_raises_last_exception(run_dir, tmp_path):
    _load(run_dir, retries=2)
    marker = str(tmp_path / "permanent")
    fut = fail_until(marker, 10)
    with pytest.raises(ValueError, match="try 3"):
        fut.result(timeout=10)
    assert _tries(marker) == 3
    assert fut.task_record["fail_count"] == 3


def test_no_retries_by_default(run_dir, tmp_path):
    _load(run_dir)
    marker = str(tmp_path / "default")
    with pytest.raises(ValueError):
        fail_until(marker, 2).result(timeout=10)
    assert _tries(marker) == 1


def test_every_try_is_recorded_with_executor_times_and_exception(run_dir, tmp_path):
    _load(run_dir, retries=3)
    fut = fail_until(str(tmp_path / "history"), 3)
    fut.result(timeout=10)
    history = fut.task_record["try_history"]
    assert [t.try_id for t in history] == [0, 1, 2]
    assert {t.executor for t in history} == {"pool"}
    assert all(t.time_launched <= t.time_returned for t in history)
    assert [type(t.exception).__name__ for t in history] == ["ValueError", "ValueError",
                                                             "NoneType"]


def test_each_failed_try_is_logged_in_parsl_log(run_dir, tmp_path):
    dfk = _load(run_dir, retries=2)
    fut = fail_until(str(tmp_path / "logged"), 10)
    with pytest.raises(ValueError):
        fut.result(timeout=10)
    tid = fut.tid
    dfk.cleanup()
    with open(os.path.join(dfk.run_dir, "parsl.log")) as f:
        log = f.read()
    for try_id in (0, 1):
        assert f"Task {tid} (app fail_until) try {try_id} failed on pool with ValueError" in log
    assert f"Task {tid} (app fail_until) failed after 3 tries" in log


def _cost_by_type(exception: BaseException, task_record) -> float:
    return 0.5 if isinstance(exception, ValueError) else 100.0


def test_retry_handler_cheap_failures_get_more_tries(run_dir, tmp_path):
    _load(run_dir, retries=2, retry_handler=_cost_by_type)
    marker = str(tmp_path / "cheap")
    with pytest.raises(ValueError):
        fail_until(marker, 100).result(timeout=10)
    assert _tries(marker) == 5


def test_retry_handler_expensive_failure_stops_retries(run_dir, tmp_path):
    _load(run_dir, retries=2, retry_handler=_cost_by_type)
    marker = str(tmp_path / "expensive")
    with pytest.raises(KeyError):
        fail_until(marker, 100, error="KeyError").result(timeout=10)
    assert _tries(marker) == 1


def test_retry_handler_receives_exception_and_task_record(run_dir, tmp_path):
    seen = []

    def handler(exception: BaseException, task_record) -> float:
        seen.append((type(exception).__name__, task_record["func_name"],
                     task_record["fail_count"]))
        return 1.0

    _load(run_dir, retries=1, retry_handler=handler)
    assert fail_until(str(tmp_path / "seen"), 2).result(timeout=10) == 2
    assert seen == [("ValueError", "fail_until", 1)]


def test_retry_handler_that_raises_fails_task_without_retrying(run_dir, tmp_path):
    def handler(exception: BaseException, task_record) -> float:
        raise RuntimeError("handler is broken")

    _load(run_dir, retries=5, retry_handler=handler)
    marker = str(tmp_path / "broken-handler")
    with pytest.raises(RuntimeError, match="handler is broken") as info:
        fail_until(marker, 3).result(timeout=10)
    assert isinstance(info.value.__cause__, ValueError)
    assert _tries(marker) == 1
