"""While a DFK runs, full garbage collections are rarer unless the program chose its own
thresholds (see parsl.dataflow.gc_policy for why)."""
from __future__ import annotations

import gc
from typing import Iterator

import pytest

import parsl
from parsl.config import Config
from parsl.dataflow import gc_policy


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*gc_policy.PYTHON_DEFAULT_THRESHOLDS)
    yield
    gc.set_threshold(*saved)


def test_default_thresholds_are_relaxed_while_a_dfk_runs_and_restored_after(
        default_thresholds, run_dir: str) -> None:
    with parsl.load(Config(run_dir=run_dir)):
        assert gc.get_threshold() == (gc_policy.YOUNG_COLLECTION_EVERY, 10,
                                      gc_policy.FULL_COLLECTION_EVERY)
    assert gc.get_threshold() == gc_policy.PYTHON_DEFAULT_THRESHOLDS


def test_thresholds_the_program_set_are_left_alone(default_thresholds, run_dir: str) -> None:
    gc.set_threshold(5000, 20, 5)
    with parsl.load(Config(run_dir=run_dir)):
        assert gc.get_threshold() == (5000, 20, 5)
    assert gc.get_threshold() == (5000, 20, 5)


def test_thresholds_changed_during_the_run_are_not_overwritten_at_cleanup(
        default_thresholds, run_dir: str) -> None:
    with parsl.load(Config(run_dir=run_dir)):
        gc.set_threshold(1000, 10, 10)
    assert gc.get_threshold() == (1000, 10, 10)
