"""Failures on remote workers reach the user with their root cause, through the DFK."""
from __future__ import annotations

import integration_tasks
import pytest

import parsl
from parsl.dataflow.errors import DependencyError
from parsl.serialize.errors import SerializationError

pytestmark = pytest.mark.slow

fail_deep = parsl.python_app(integration_tasks.deep_failure)
echo = parsl.python_app(integration_tasks.echo)


def test_remote_exception_keeps_type_message_and_remote_traceback(htex_dfk):
    fut = fail_deep(3)
    with pytest.raises(FileNotFoundError, match=r"input\.dat is missing") as info:
        fut.result(timeout=60)
    remote = getattr(info.value, "__parsl_remote_traceback__", "")
    assert "deep_failure" in remote and "integration_tasks.py" in remote


def test_dependency_chain_through_htex_carries_remote_root_cause(htex_dfk):
    root = fail_deep(2)
    fut = echo(echo(echo(root)))
    with pytest.raises(DependencyError) as info:
        fut.result(timeout=60)
    text = str(info.value)
    assert f"task {root.tid} (app 'deep_failure') failed with FileNotFoundError" in text
    assert "input.dat is missing on the worker" in text
    assert "integration_tasks.py" in text and "remote traceback" in text
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_unserializable_argument_names_task_app_and_argument(htex_dfk):
    fut = echo(i for i in range(3))
    with pytest.raises(SerializationError) as info:
        fut.result(timeout=60)
    text = str(info.value)
    assert f"task {fut.tid}" in text
    assert "echo" in text
    assert "generator" in text


def test_unserializable_result_names_the_result_and_its_type(htex_dfk):
    @parsl.python_app
    def make_generator():
        return (i for i in range(3))

    with pytest.raises(SerializationError) as info:
        make_generator().result(timeout=60)
    text = str(info.value)
    assert "result" in text and "generator" in text
