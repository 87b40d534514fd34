"""parsl-htex: Parsl's HighThroughputExecutor and MPIExecutor.

Installing this distribution makes ``from parsl.executors import
HighThroughputExecutor`` work through core's plugin registry. The pieces:

- :mod:`parsl_htex.executor` - the submit side (the executor object);
- :mod:`parsl_htex.interchange` - the queueing process between executor and managers;
- :mod:`parsl_htex.process_worker_pool` - the per-node manager (``process_worker_pool``);
- :mod:`parsl_htex.worker` - the worker processes the manager starts.
"""
from __future__ import annotations

from typing import Any

from parsl_htex.version import VERSION

__version__ = VERSION

__all__ = ["HighThroughputExecutor", "MPIExecutor", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so worker processes importing parsl_htex.worker do not pay for the executor.
    if name == "HighThroughputExecutor":
        from parsl_htex.executor import HighThroughputExecutor

        return HighThroughputExecutor
    if name == "MPIExecutor":
        from parsl_htex.mpi import MPIExecutor

        return MPIExecutor
    raise AttributeError(f"module 'parsl_htex' has no attribute {name!r}")
