"""Fixtures shared by the core tests: a loaded DFK on threads, with its run_dir in tmp_path."""
from __future__ import annotations

from typing import Iterator

import pytest
from parsl_test_fixtures import _no_leftover_dfk  # noqa: F401 - autouse fixture

import parsl
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernel
from parsl.executors.threads import ThreadPoolExecutor


@pytest.fixture
def run_dir(tmp_path) -> str:
    return str(tmp_path / "runinfo")


@pytest.fixture
def dfk(run_dir: str) -> Iterator[DataFlowKernel]:
    """A DFK with two thread executors, 'threads' (4 threads) and 'other' (2 threads)."""
    config = Config(executors=[ThreadPoolExecutor(label="threads", max_threads=4),
                               ThreadPoolExecutor(label="other", max_threads=2)],
                    run_dir=run_dir)
    loaded = parsl.load(config)
    yield loaded
    loaded.cleanup()
