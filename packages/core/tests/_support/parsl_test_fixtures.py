"""Fixtures shared by the core tests and the cross-package tests (imported by their
conftest.py files, which are on pytest's pythonpath)."""
from __future__ import annotations

import logging
from typing import Iterator

import pytest

from parsl.dataflow.dflow import DataFlowKernelLoader


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
