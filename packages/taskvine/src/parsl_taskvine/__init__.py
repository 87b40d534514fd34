"""parsl-taskvine: Parsl's WorkQueueExecutor and TaskVineExecutor on cctools (ndcctools).

Importing this package is cheap and imports neither parsl's executors nor ndcctools: the
worker-side task runner (:mod:`parsl_taskvine._runner`) lives here too and must start
fast on every worker. The executors are reached through ``parsl.executors`` or through
:mod:`parsl_taskvine.vine` and :mod:`parsl_taskvine.workqueue`.
"""
from __future__ import annotations

__all__ = ["TaskVineExecutor", "TaskVineFactoryConfig", "TaskVineManagerConfig",
           "WorkQueueExecutor"]

_WHERE = {
    "TaskVineExecutor": "parsl_taskvine.vine.executor",
    "TaskVineManagerConfig": "parsl_taskvine.vine.manager_config",
    "TaskVineFactoryConfig": "parsl_taskvine.vine.factory_config",
    "WorkQueueExecutor": "parsl_taskvine.workqueue.executor",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'parsl_taskvine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
