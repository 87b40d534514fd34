"""Lazy failure: a failed task fails only its dependents, with the root cause attached."""
from __future__ import annotations

import pytest

from parsl import join_app, python_app
from parsl.dataflow.errors import DependencyError, JoinError
from parsl.dataflow.states import States


@python_app
def explode(message: str) -> int:
    raise ValueError(message)


@python_app
def add_one(x: int) -> int:
    return x + 1


@python_app
def add(x: int, y: int) -> int:
    return x + y


def test_chain_of_dependents_reports_original_exception_app_and_task(dfk):
    root = explode("disk on fire")
    middle = add_one(root)
    leaf = add_one(middle)
    with pytest.raises(DependencyError) as info:
        leaf.result(timeout=10)
    message = str(info.value)
    assert "ValueError: disk on fire" in message
    assert f"task {root.tid} (app 'explode')" in message
    assert f"task {leaf.tid} (app 'add_one')" in message


def test_root_cause_traceback_starts_at_the_app_not_in_parsl(dfk):
    leaf = add_one(add_one(explode("with traceback")))
    with pytest.raises(DependencyError) as info:
        leaf.result(timeout=10)
    traceback_text = info.value.root_causes[0].traceback_text
    assert "raise ValueError(message)" in traceback_text
    assert "dflow.py" not in traceback_text


def test_dependency_error_chains_to_original_exception(dfk):
    leaf = add_one(add_one(explode("chained")))
    with pytest.raises(DependencyError) as info:
        leaf.result(timeout=10)
    (cause,) = info.value.root_causes
    assert isinstance(cause.exception, ValueError)
    assert info.value.__cause__ is cause.exception


def test_dependents_of_failure_never_run_and_are_marked_dep_fail(dfk):
    middle = add_one(explode("stop"))
    with pytest.raises(DependencyError):
        middle.result(timeout=10)
    assert middle.task_record.status is States.dep_fail


def test_independent_branch_completes_despite_failure_elsewhere(dfk):
    failed_branch = add_one(explode("left branch"))
    healthy_branch = add_one(add_one(1))
    assert healthy_branch.result(timeout=10) == 3
    with pytest.raises(DependencyError):
        failed_branch.result(timeout=10)


def test_two_failed_dependencies_report_both_root_causes(dfk):
    first, second = explode("first problem"), explode("second problem")
    combined = add(first, second)
    with pytest.raises(DependencyError) as info:
        combined.result(timeout=10)
    message = str(info.value)
    assert "first problem" in message and "second problem" in message
    assert {c.task_id for c in info.value.root_causes} == {first.tid, second.tid}


@join_app
def join_over_failure(message: str):
    return add_one(explode(message))


def test_join_app_over_failed_inner_task_reports_root_cause(dfk):
    with pytest.raises(JoinError) as info:
        join_over_failure("inner failure").result(timeout=10)
    assert "ValueError: inner failure" in str(info.value)
    assert "(app 'explode')" in str(info.value)
