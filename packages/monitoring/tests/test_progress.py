"""Progress displays: the live terminal table (a DFK plugin) and progress(futures)."""
from __future__ import annotations

import io
from concurrent.futures import Future
from typing import Any

import monitoring_test_tasks as tasks
import pytest

import parsl
from parsl.app.app import python_app
from parsl.config import Config
from parsl.executors import ThreadPoolExecutor
from parsl_monitoring import ProgressDisplay, progress

sleepy = python_app(tasks.sleepy)
explode = python_app(tasks.explode)


def test_progress_display_counts_tasks_by_state_and_draws_them(tmp_path: Any) -> None:
    out = io.StringIO()
    display = ProgressDisplay(refresh=0.05, file=out)
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=str(tmp_path),
                    plugins=[display])
    with parsl.load(config):
        futures = [sleepy(0.01) for _ in range(6)] + [explode("no")]
        for f in futures[:-1]:
            f.result()
        with pytest.raises(RuntimeError):
            futures[-1].result()
    assert display.snapshot() == {"exec_done": 6, "failed": 1}
    drawn = out.getvalue()
    assert "exec_done" in drawn and "failed" in drawn


def test_progress_display_refuses_a_non_positive_refresh() -> None:
    with pytest.raises(ValueError, match="refresh"):
        ProgressDisplay(refresh=0)


def test_progress_returns_once_every_future_is_done_and_counts_failures() -> None:
    futures: list[Future[Any]] = [Future() for _ in range(4)]
    for f in futures[:3]:
        f.set_result(1)
    futures[3].set_exception(ValueError("x"))
    out = io.StringIO()
    progress(futures, interval=0.05, file=out)
    assert "4/4" in out.getvalue()
    assert "1 failed" in out.getvalue()


def test_progress_follows_futures_of_a_running_workflow(tmp_path: Any) -> None:
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=str(tmp_path))
    out = io.StringIO()
    with parsl.load(config):
        futures = [sleepy(0.05) for _ in range(8)]
        progress(futures, interval=0.05, file=out)
        assert all(f.done() for f in futures)
    assert "8/8" in out.getvalue()
