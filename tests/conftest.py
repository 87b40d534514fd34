"""Fixtures for cross-package tests: a DFK running a real local HighThroughputExecutor."""
from __future__ import annotations

import os
from typing import Iterator

import pytest
from parsl_test_fixtures import _no_leftover_dfk  # noqa: F401 - autouse fixture

import parsl
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernel

SUPPORT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_support")


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
