"""Helpers for the memoization and checkpointing tests."""
from __future__ import annotations

import os
from typing import Callable, List

import pytest


def count_lines(path: str) -> int:
    """How many times an app appended its marker line to ``path`` (0 if never)."""
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for _ in f)


@pytest.fixture
def counter(tmp_path) -> Callable[[str], str]:
    """A fresh marker-file path per name; apps append a line each time they really run."""

    def make(name: str) -> str:
        return str(tmp_path / f"{name}.runs")

    return make


@pytest.fixture
def runs() -> Callable[[str], int]:
    return count_lines


def _records_in(checkpoint_dir: str) -> List[object]:
    from parsl.dataflow.checkpoint import FILE_NAME, iter_records

    path = os.path.join(checkpoint_dir, FILE_NAME)
    if not os.path.exists(path):
        return []
    return [value for _, value in iter_records(path)]


@pytest.fixture
def records_in() -> Callable[[str], List[object]]:
    """The results stored in a checkpoint directory, in file order."""
    return _records_in
