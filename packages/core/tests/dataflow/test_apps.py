"""App decorators as Parsl users apply them."""
from __future__ import annotations

import functools
import threading

import core_test_apps
import pytest

import parsl
from parsl import bash_app, join_app, python_app
from parsl.dataflow.errors import UnknownExecutorError


@python_app
def bare_double(x):
    return 2 * x


@python_app(executors=["other"], cache=False)
def on_other():
    return threading.current_thread().name


def test_bare_python_app_returns_future_with_result(dfk):
    fut = bare_double(21)
    assert fut.result(timeout=10) == 42


def test_python_app_with_arguments_runs_on_named_executor(dfk):
    assert "other" in on_other().result(timeout=10)


def test_app_wrapping_function_from_another_module(dfk):
    add = python_app(core_test_apps.add)
    assert add(2, b=3).result(timeout=10) == 5
    assert add.__name__ == "add"


def test_app_wrapping_functools_partial(dfk):
    add_ten = python_app(functools.partial(core_test_apps.add, b=10))
    fut = add_ten(5)
    assert fut.result(timeout=10) == 15
    assert fut.task_record["func_name"] == "add"


def test_app_wrapping_callable_object(dfk):
    triple = python_app(core_test_apps.Multiplier(3))
    assert triple(7).result(timeout=10) == 21


def test_decorator_with_explicit_data_flow_kernel(dfk):
    @python_app(data_flow_kernel=dfk)
    def one():
        return 1

    assert one().result(timeout=10) == 1


def test_bash_app_bare_and_with_arguments(dfk, tmp_path):
    out = tmp_path / "out.txt"

    @bash_app
    def echo(text, stdout=None):
        return f"echo {text}"

    @bash_app(executors=["threads"])
    def touch(path):
        return f"touch {path}"

    assert echo("hello", stdout=str(out)).result(timeout=10) == 0
    assert out.read_text() == "hello\n"
    assert touch(str(tmp_path / "t")).result(timeout=10) == 0
    assert (tmp_path / "t").exists()


def test_join_app_bare_and_with_arguments(dfk):
    @join_app
    def plus_one(x):
        return bare_double(x)

    @join_app(cache=False)
    def many(n):
        return [bare_double(i) for i in range(n)]

    assert plus_one(4).result(timeout=10) == 8
    assert many(4).result(timeout=10) == [0, 2, 4, 6]


def test_unknown_executor_label_raises_at_call_naming_known_labels(dfk):
    @python_app(executors=["nope"])
    def nowhere():
        return 1

    with pytest.raises(UnknownExecutorError) as info:
        nowhere()
    message = str(info.value)
    assert "'nope'" in message and "'threads'" in message and "'other'" in message


def test_app_called_without_loaded_config_gives_parsls_message():
    with pytest.raises(parsl.errors.NoDataFlowKernelError) as info:
        bare_double(1)
    assert str(info.value) == "Must first load config"


def test_decorator_rejects_non_callable():
    with pytest.raises(TypeError, match="callable"):
        python_app(42)


def test_decorator_rejects_string_executors():
    with pytest.raises(TypeError, match="executors"):
        python_app(executors="threads")(core_test_apps.add)


def test_apps_spread_over_all_executors_by_default(dfk):
    @python_app
    def where():
        return threading.current_thread().name

    names = {where().result(timeout=10).split("_")[0] for _ in range(60)}
    assert {"parsl-threads", "parsl-other"} <= names
