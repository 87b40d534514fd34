"""Fixtures for cross-package tests: a DFK running a real local HighThroughputExecutor."""
from __future__ import annotations

import logging
import os
from typing import Iterator

import pytest

import parsl
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernel, DataFlowKernelLoader

SUPPORT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_support")


@pytest.fixture(autouse=True)
def _no_leftover_dfk() -> Iterator[None]:
    DataFlowKernelLoader.clear()
    yield
    dfk = DataFlowKernelLoader._dfk
    if dfk is not None:
        dfk.cleanup()
    DataFlowKernelLoader.clear()
    logging.getLogger("parsl").handlers.clear()


@pytest.fixture
def htex_dfk(tmp_path) -> Iterator[DataFlowKernel]:
    """A DFK with one HighThroughputExecutor (2 workers) on a LocalProvider block."""
    pytest.importorskip("parsl_htex", reason="parsl-htex is not installed")
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    provider = LocalProvider(init_blocks=1, max_blocks=1,
                             worker_init=f"export PYTHONPATH={SUPPORT_DIR}:${{PYTHONPATH:-}}")
    config = Config(executors=[HighThroughputExecutor(label="htex", max_workers_per_node=2,
                                                      provider=provider)],
                    run_dir=str(tmp_path / "runinfo"))
    dfk = parsl.load(config)
    yield dfk
    dfk.cleanup()
