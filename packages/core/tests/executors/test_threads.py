"""ThreadPoolExecutor used directly, as other executors' authors and the DFK use it."""
from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from parsl.executors.errors import InvalidResourceSpecification
from parsl.executors.threads import ThreadPoolExecutor


@pytest.fixture
def pool():
    executor = ThreadPoolExecutor(label="direct", max_threads=2)
    executor.start()
    yield executor
    executor.shutdown(block=True)


def test_submit_returns_concurrent_future_with_result(pool):
    fut = pool.submit(lambda a, b=0: a + b, {}, 2, b=3)
    assert isinstance(fut, cf.Future)
    assert fut.result(timeout=10) == 5


def test_exception_is_set_on_the_future(pool):
    fut = pool.submit(lambda: 1 / 0, {})
    assert isinstance(fut.exception(timeout=10), ZeroDivisionError)


def test_a_resource_specification_is_refused_with_parsls_error_naming_the_keys(pool):
    with pytest.raises(InvalidResourceSpecification) as info:
        pool.submit(lambda: 1, {"cores": 1, "memory": 1})
    assert info.value.invalid_keys == {"cores", "memory"}
    assert "ThreadPoolExecutor 'direct'" in str(info.value)


def test_runs_max_threads_tasks_at_once(pool):
    barrier = threading.Barrier(2, timeout=10)
    futures = [pool.submit(barrier.wait, {}) for _ in range(2)]
    assert sorted(f.result(timeout=10) for f in futures) == [0, 1]


def test_shutdown_cancels_queued_tasks_and_lets_running_ones_finish():
    executor = ThreadPoolExecutor(max_threads=1)
    executor.start()
    started, release = threading.Event(), threading.Event()

    def hold():
        started.set()
        assert release.wait(10)
        return "finished"

    running = executor.submit(hold, {})
    assert started.wait(10)
    queued = executor.submit(hold, {})
    executor.shutdown()
    assert queued.cancelled()
    release.set()
    assert running.result(timeout=10) == "finished"


def test_submit_after_shutdown_raises(pool):
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(print, {})


def test_threads_carry_the_label_in_their_names(pool):
    assert pool.submit(lambda: threading.current_thread().name, {}).result(
        timeout=10).startswith("parsl-direct_")


def test_a_config_loaded_again_after_cleanup_runs_tasks_on_a_fresh_pool(run_dir) -> None:
    """A notebook's second ``parsl.load(config)`` (and Parsl's tests, which share config
    modules) reuses the executor objects: the pool starts again."""
    import parsl
    from parsl.config import Config

    executor = ThreadPoolExecutor(label="again", max_threads=2)
    config = Config(executors=[executor], run_dir=run_dir)

    @parsl.python_app
    def double(x: int) -> int:
        return 2 * x

    for run in range(2):
        with parsl.load(config):
            assert double(run + 1).result(timeout=30) == 2 * (run + 1)
    for thread in executor._threads:  # the second pool's threads end after cleanup
        thread.join(timeout=10)
        assert not thread.is_alive()
