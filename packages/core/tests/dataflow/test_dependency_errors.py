"""A failed dependency reports the root cause: type, message, app, task id and traceback."""
from __future__ import annotations

import concurrent.futures as cf

import core_test_apps
import pytest

from parsl import python_app
from parsl.dataflow.errors import DependencyError
from parsl.dataflow.states import States


@python_app
def explode(message):
    raise ValueError(message)


@python_app
def passthrough(x):
    return x


@python_app
def combine(a, b):
    return (a, b)


def test_dependency_error_names_root_cause_of_direct_failure(dfk):
    root = explode("disk on fire")
    child = passthrough(root)
    with pytest.raises(DependencyError) as info:
        child.result(timeout=10)
    err = info.value
    text = str(err)
    assert f"task {child.tid}" in text
    assert f"task {root.tid} (app 'explode') failed with ValueError: disk on fire" in text
    assert "Traceback" in text and "raise ValueError(message)" in text
    assert isinstance(err.__cause__, ValueError)
    assert child.task_record.status == States.dep_fail


def test_root_cause_survives_chains_of_several_tasks(dfk):
    root = explode("original")
    fut = root
    for _ in range(5):
        fut = passthrough(fut)
    with pytest.raises(DependencyError) as info:
        fut.result(timeout=10)
    err = info.value
    assert len(err.root_causes) == 1
    cause = err.root_causes[0]
    assert (cause.task_id, cause.app_name) == (root.tid, "explode")
    assert type(cause.exception) is ValueError
    assert f"task {root.tid} (app 'explode') failed with ValueError: original" in str(err)
    assert err.__cause__ is root.exception()


def test_every_failed_dependency_is_reported(dfk):
    left, right = explode("left"), explode("right")
    with pytest.raises(DependencyError) as info:
        combine(left, right).result(timeout=10)
    text = str(info.value)
    assert "ValueError: left" in text and "ValueError: right" in text


def test_failure_from_other_module_function_is_named(dfk):
    failing = python_app(core_test_apps.fail_with)
    with pytest.raises(DependencyError, match="app 'fail_with'"):
        passthrough(failing("elsewhere")).result(timeout=10)


def test_failed_plain_future_is_reported_as_external(dfk):
    external: cf.Future = cf.Future()
    external.set_exception(OSError("outside"))
    with pytest.raises(DependencyError, match="a future from outside Parsl failed with OSError"):
        passthrough(external).result(timeout=10)


def test_independent_branches_complete_when_one_fails(dfk):
    bad = passthrough(explode("x"))
    good = [passthrough(i) for i in range(10)]
    assert [g.result(timeout=10) for g in good] == list(range(10))
    assert isinstance(bad.exception(timeout=10), DependencyError)
