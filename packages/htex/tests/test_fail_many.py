"""Many outstanding tasks failing at once: each future gets its own short error.

The figure (100,000 tasks failed well within a second of DFK time) is held by
``benchmarks/fail_outstanding.py``; these tests hold the behaviour.
"""
from __future__ import annotations

import traceback

import pytest
from htex_support import wait_for

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider
from parsl_htex.errors import InterchangeLost

pytestmark = pytest.mark.slow

TASKS = 2000


@parsl.python_app
def never_runs() -> None:
    return None


def _fail_by_killing_the_interchange(tmp_path, retries: int = 0) -> list:
    """Submit TASKS apps to an executor with no blocks, then SIGKILL its interchange."""
    ex = HighThroughputExecutor(label="htex", address="127.0.0.1",
                                provider=LocalProvider(init_blocks=0, max_blocks=0))
    config = Config(executors=[ex], strategy="none", run_dir=str(tmp_path / "runinfo"),
                    retries=retries)
    with parsl.load(config):
        futures = [never_runs() for _ in range(TASKS)]
        ex.interchange_proc.kill()
        wait_for(lambda: all(f.done() for f in futures), timeout=60,
                 what="every future to fail after the interchange was killed")
    return futures


def test_each_failed_future_has_its_own_exception_object(tmp_path):
    futures = _fail_by_killing_the_interchange(tmp_path)
    errors = [f.exception() for f in futures]
    assert all(isinstance(e, InterchangeLost) for e in errors)
    assert len({id(e) for e in errors}) == TASKS


def test_tracebacks_stay_short_however_many_futures_are_read(tmp_path):
    futures = _fail_by_killing_the_interchange(tmp_path)
    lengths = []
    for fut in futures:
        with pytest.raises(InterchangeLost) as info:
            fut.result()
        lengths.append(len(traceback.extract_tb(info.value.__traceback__)))
    # Reading a future's result adds only that call's own frames, never earlier readers'.
    assert max(lengths) <= 5, f"longest traceback {max(lengths)} frames"


def test_tasks_with_retries_left_are_retried_when_the_interchange_is_lost(tmp_path):
    futures = _fail_by_killing_the_interchange(tmp_path, retries=2)
    assert all(isinstance(f.exception(), InterchangeLost) for f in futures)
    # Each retry is refused by the executor, now in a bad state, until none is left.
    assert {f.task_record.fail_count for f in futures} == {3}


def test_retried_failures_keep_short_tracebacks_of_their_own(tmp_path):
    futures = _fail_by_killing_the_interchange(tmp_path, retries=2)
    assert len({id(f.exception()) for f in futures}) == TASKS
    lengths = []
    for fut in futures:
        with pytest.raises(InterchangeLost) as info:
            fut.result()
        lengths.append(len(traceback.extract_tb(info.value.__traceback__)))
    assert max(lengths) <= 5, f"longest traceback {max(lengths)} frames"
