"""parsl.load/dfk/clear, the with block, exit modes, and construction-time validation."""
from __future__ import annotations

import os
import threading

import pytest

import parsl
from parsl.config import Config
from parsl.errors import BadParameter, ConfigurationError, NoDataFlowKernelError
from parsl.executors.threads import ThreadPoolExecutor


@parsl.python_app
def square(x):
    return x * x


def test_load_without_config_uses_threads(run_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dfk = parsl.load()
    try:
        assert parsl.dfk() is dfk
        assert isinstance(dfk.executors["threads"], ThreadPoolExecutor)
        assert square(3).result(timeout=10) == 9
        assert os.path.isdir(tmp_path / "runinfo" / "000")
    finally:
        dfk.cleanup()


def test_with_block_cleans_up_and_unloads(run_dir):
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        assert square(4).result(timeout=10) == 16
    assert dfk.cleanup_called
    with pytest.raises(NoDataFlowKernelError):
        parsl.dfk()


def test_load_twice_is_an_error_naming_the_fix(dfk, run_dir):
    with pytest.raises(ConfigurationError, match="already been loaded"):
        parsl.load(Config(run_dir=run_dir))


def test_clear_allows_a_new_load(run_dir):
    first = parsl.load(Config(run_dir=run_dir))
    parsl.clear()
    second = parsl.load(Config(run_dir=run_dir))
    try:
        assert first is not second
        assert first.run_dir != second.run_dir
    finally:
        first.cleanup()
        second.cleanup()


def test_wait_for_current_tasks_waits_for_everything(dfk):
    release = threading.Event()

    @parsl.python_app
    def slow():
        assert release.wait(10)
        return 1

    futures = [slow() for _ in range(3)]
    threading.Timer(0.2, release.set).start()
    parsl.wait_for_current_tasks()
    assert all(f.done() for f in futures)


def test_exit_mode_wait_waits_for_tasks(run_dir):
    release = threading.Event()

    @parsl.python_app
    def slow():
        assert release.wait(10)
        return "done"

    with parsl.load(Config(run_dir=run_dir, exit_mode="wait")):
        fut = slow()
        threading.Timer(0.2, release.set).start()
    assert fut.result(timeout=0) == "done"


def test_exit_mode_skip_leaves_dfk_running(run_dir):
    with parsl.load(Config(run_dir=run_dir, exit_mode="skip")) as dfk:
        pass
    try:
        assert not dfk.cleanup_called
        assert square(5).result(timeout=10) == 25
    finally:
        dfk.cleanup()


def test_submit_after_cleanup_fails_clearly(run_dir):
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        pass
    with pytest.raises(NoDataFlowKernelError, match="cleaned up"):
        square.__class__(square.func, data_flow_kernel=dfk)(1)


def test_cleanup_cancels_queued_thread_tasks_instead_of_hanging(run_dir):
    started, release = threading.Event(), threading.Event()

    @parsl.python_app
    def hold():
        started.set()
        release.wait(10)

    dfk = parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=1)], run_dir=run_dir))
    first = hold()
    assert started.wait(10)
    queued = hold()
    dfk.cleanup()
    release.set()
    with pytest.raises(Exception, match="shut down"):
        queued.result(timeout=10)
    first.result(timeout=10)


@pytest.mark.parametrize("kwargs, parameter, expected", [
    ({"retries": "3"}, "retries", "int"),
    ({"retries": -1}, "retries", ">= 0"),
    ({"exit_mode": "explode"}, "exit_mode", "cleanup"),
    ({"executors": [42]}, "executors[0]", "ParslExecutor"),
    ({"checkpoint_period": "soon"}, "checkpoint_period", "HH:MM:SS"),
    ({"app_cache": "yes"}, "app_cache", "bool"),
])
def test_config_rejects_bad_values_naming_parameter_value_and_type(kwargs, parameter, expected):
    with pytest.raises(BadParameter) as info:
        Config(**kwargs)
    message = str(info.value)
    assert f"'{parameter}" in message
    assert expected in message
    value = next(iter(kwargs.values()))
    assert repr(value[0] if isinstance(value, list) else value) in message


def test_thread_executor_rejects_bad_max_threads():
    expected = r"ThreadPoolExecutor: parameter 'max_threads' got 'two'"
    with pytest.raises(BadParameter, match=expected):
        ThreadPoolExecutor(max_threads="two")
    with pytest.raises(BadParameter, match=">= 1"):
        ThreadPoolExecutor(max_threads=0)


def test_duplicate_executor_labels_are_rejected():
    with pytest.raises(ConfigurationError, match="both have label 'x'"):
        Config(executors=[ThreadPoolExecutor(label="x"), ThreadPoolExecutor(label="x")])


def test_thread_executor_refuses_resource_specification(dfk):
    @parsl.python_app
    def wants(parsl_resource_specification=None):
        return 1

    with pytest.raises(Exception, match="parsl_resource_specification"):
        wants(parsl_resource_specification={"cores": 2}).result(timeout=10)
