"""The exceptions of ``parsl.executors.errors`` exist under Parsl's names and bases."""
from __future__ import annotations

import pytest

from parsl.errors import ParslError
from parsl.executors import errors

PARSL_BASES = [
    ("ExecutorError", ParslError),
    ("BadStateException", errors.ExecutorError),
    ("UnsupportedFeatureError", errors.ExecutorError),
    ("InvalidResourceSpecification", errors.ExecutorError),
    ("ScalingFailed", errors.ExecutorError),
    ("BadMessage", ParslError),
]


@pytest.mark.parametrize("name, base", PARSL_BASES, ids=[n for n, _ in PARSL_BASES])
def test_executor_error_exists_with_parsls_base_class(name, base) -> None:
    assert issubclass(getattr(errors, name), base)


def test_bad_message_keeps_and_states_its_reason() -> None:
    err = errors.BadMessage("no task_id field")
    assert err.reason == "no task_id field"
    assert str(err) == "Received an unsupported message. Reason:no task_id field"


def test_bad_state_exception_takes_the_exception_that_broke_the_executor() -> None:
    cause = RuntimeError("all blocks failed")
    err = errors.BadStateException("htex", cause)
    assert err.exception is cause
    assert err.reason == "all blocks failed"
    assert "htex" in str(err) and "all blocks failed" in str(err)


def test_scaling_failed_names_the_executor_and_reason() -> None:
    err = errors.ScalingFailed("htex_local", "provider returned no job id")
    assert str(err) == "Executor htex_local failed to scale due to: provider returned no job id"
