"""Fixtures shared by the core tests: a loaded DFK on threads, with its run_dir in tmp_path."""
from __future__ import annotations

import logging
from typing import Iterator

import pytest

import parsl
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernel, DataFlowKernelLoader
from parsl.executors.threads import ThreadPoolExecutor


@pytest.fixture(autouse=True)
def _no_leftover_dfk() -> Iterator[None]:
    """Every test starts and ends with no DFK loaded, whatever it did."""
    DataFlowKernelLoader.clear()
    yield
    dfk = DataFlowKernelLoader._dfk
    if dfk is not None:
        dfk.cleanup()
    DataFlowKernelLoader.clear()
    logging.getLogger("parsl").handlers.clear()


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
