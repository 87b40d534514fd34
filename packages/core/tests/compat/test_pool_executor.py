"""parsl.concurrent.ParslPoolExecutor: a concurrent.futures.Executor over a Parsl config."""
from __future__ import annotations

import concurrent.futures as cf
import time

import pytest

import parsl
from parsl.concurrent import ParslPoolExecutor
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernelLoader
from parsl.dataflow.futures import AppFuture


def square(x: int) -> int:
    return x * x


def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_is_a_concurrent_futures_executor_returning_app_futures(run_dir: str) -> None:
    with ParslPoolExecutor(Config(run_dir=run_dir)) as pool:
        future = pool.submit(square, 4)
        assert isinstance(pool, cf.Executor)
        assert isinstance(future, AppFuture)
        assert future.result(timeout=30) == 16


def test_map_yields_results_in_input_order(run_dir: str) -> None:
    with ParslPoolExecutor(Config(run_dir=run_dir)) as pool:
        assert list(pool.map(square, range(6), timeout=30)) == [0, 1, 4, 9, 16, 25]


def test_map_timeout_raises_timeout_error(run_dir: str) -> None:
    with ParslPoolExecutor(Config(run_dir=run_dir)) as pool:
        results = pool.map(slow, [2.0], timeout=0.05)
        with pytest.raises(cf.TimeoutError):
            next(results)


def test_futures_chain_as_dependencies(run_dir: str) -> None:
    with ParslPoolExecutor(Config(run_dir=run_dir)) as pool:
        assert pool.submit(square, pool.submit(square, 2)).result(timeout=30) == 16


def test_one_app_per_function(run_dir: str) -> None:
    with ParslPoolExecutor(Config(run_dir=run_dir)) as pool:
        pool.submit(square, 1)
        pool.submit(square, 2)
        pool.submit(slow, 0)
        assert pool.app_count == 2


def test_with_block_cleans_up_the_dfk_it_loaded(run_dir: str) -> None:
    with ParslPoolExecutor(Config(run_dir=run_dir)) as pool:
        dfk = pool._dfk
    assert dfk is not None and dfk.cleanup_called
    assert DataFlowKernelLoader._dfk is None


def test_given_dfk_is_left_running(run_dir: str) -> None:
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        with ParslPoolExecutor(dfk=dfk) as pool:
            assert pool.submit(square, 3).result(timeout=30) == 9
        assert not dfk.cleanup_called


def test_submit_after_shutdown_is_refused(run_dir: str) -> None:
    pool = ParslPoolExecutor(Config(run_dir=run_dir))
    pool.shutdown()
    with pytest.raises(RuntimeError, match="has been shut down"):
        pool.submit(square, 1)


def test_config_and_dfk_together_are_refused(run_dir: str) -> None:
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        with pytest.raises(ValueError, match="only one of config or dfk"):
            ParslPoolExecutor(Config(run_dir=run_dir), dfk=dfk)


def test_neither_config_nor_dfk_is_refused() -> None:
    with pytest.raises(ValueError, match="one of config or dfk"):
        ParslPoolExecutor()
