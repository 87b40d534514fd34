"""Parsl's module paths under parsl.executors.high_throughput keep importing."""
from __future__ import annotations

import importlib

import pytest

import parsl_htex.errors
import parsl_htex.executor
import parsl_htex.manager_selector
import parsl_htex.mpi


def test_parsl_executor_module_path_gives_the_same_class():
    from parsl.executors.high_throughput.executor import HighThroughputExecutor

    assert HighThroughputExecutor is parsl_htex.executor.HighThroughputExecutor


def test_registry_name_and_module_path_agree():
    from parsl.executors import HighThroughputExecutor
    from parsl.executors.high_throughput.executor import (
        HighThroughputExecutor as FromModulePath,
    )

    assert HighThroughputExecutor is FromModulePath


def test_mpi_executor_module_path_gives_the_same_class():
    from parsl.executors.high_throughput.mpi_executor import MPIExecutor

    assert MPIExecutor is parsl_htex.mpi.MPIExecutor


def test_errors_module_path_gives_the_same_exceptions():
    from parsl.executors.high_throughput.errors import ManagerLost, VersionMismatch, WorkerLost

    assert (ManagerLost, VersionMismatch, WorkerLost) == (
        parsl_htex.errors.ManagerLost, parsl_htex.errors.VersionMismatch,
        parsl_htex.errors.WorkerLost)


def test_manager_selector_module_path_gives_the_same_selectors():
    from parsl.executors.high_throughput.manager_selector import (
        BlockIdManagerSelector,
        RandomManagerSelector,
    )

    assert BlockIdManagerSelector is parsl_htex.manager_selector.BlockIdManagerSelector
    assert RandomManagerSelector is parsl_htex.manager_selector.RandomManagerSelector


@pytest.mark.parametrize("path, real", [
    ("parsl.executors.high_throughput.interchange", "parsl_htex.interchange"),
    ("parsl.executors.high_throughput.process_worker_pool", "parsl_htex.process_worker_pool"),
])
def test_process_module_paths_are_the_real_modules(path, real):
    assert importlib.import_module(path) is importlib.import_module(real)
