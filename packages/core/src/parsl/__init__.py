"""Parsl: parallel scripting in Python.

Decorate functions as apps, call them to get futures, pass futures to other apps to build
a task graph at run time, and choose where tasks run with a configuration::

    import parsl
    from parsl import python_app

    @python_app
    def double(x):
        return 2 * x

    with parsl.load():
        print(double(21).result())

Names are imported on first use so ``import parsl`` stays fast.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from parsl.version import VERSION

__version__ = VERSION

_LAZY: Dict[str, Tuple[str, str]] = {
    "AUTO_LOGNAME": ("parsl.dataflow.dflow", "AUTO_LOGNAME"),
    "Config": ("parsl.config", "Config"),
    "DataFlowKernel": ("parsl.dataflow.dflow", "DataFlowKernel"),
    "DataFlowKernelLoader": ("parsl.dataflow.dflow", "DataFlowKernelLoader"),
    "File": ("parsl.data_provider.files", "File"),
    "ThreadPoolExecutor": ("parsl.executors.threads", "ThreadPoolExecutor"),
    "python_app": ("parsl.app.app", "python_app"),
    "bash_app": ("parsl.app.app", "bash_app"),
    "join_app": ("parsl.app.app", "join_app"),
    "set_stream_logger": ("parsl.log_utils", "set_stream_logger"),
    "set_file_logger": ("parsl.log_utils", "set_file_logger"),
    # Resolved through the plugin registry: an ImportError names the distribution to
    # install when the plugin is missing (so they are not in __all__).
    "HighThroughputExecutor": ("parsl.executors", "HighThroughputExecutor"),
    "WorkQueueExecutor": ("parsl.executors", "WorkQueueExecutor"),
    "RadicalPilotExecutor": ("parsl.executors", "RadicalPilotExecutor"),
    "MonitoringHub": ("parsl.monitoring", "MonitoringHub"),
}

_LOADER_METHODS = ("load", "clear", "dfk", "wait_for_current_tasks")

__all__ = ["AUTO_LOGNAME", "Config", "DataFlowKernel", "DataFlowKernelLoader", "File",
           "ThreadPoolExecutor", "__version__", "bash_app", "clear", "dfk", "join_app", "load",
           "python_app", "set_file_logger", "set_stream_logger", "wait_for_current_tasks"]

if TYPE_CHECKING:
    from parsl.app.app import bash_app as bash_app
    from parsl.app.app import join_app as join_app
    from parsl.app.app import python_app as python_app
    from parsl.config import Config as Config
    from parsl.data_provider.files import File as File
    from parsl.dataflow.dflow import AUTO_LOGNAME as AUTO_LOGNAME
    from parsl.dataflow.dflow import DataFlowKernel as DataFlowKernel
    from parsl.dataflow.dflow import DataFlowKernelLoader as DataFlowKernelLoader
    from parsl.executors.threads import ThreadPoolExecutor as ThreadPoolExecutor
    from parsl.log_utils import set_file_logger as set_file_logger
    from parsl.log_utils import set_stream_logger as set_stream_logger

    load = DataFlowKernelLoader.load
    clear = DataFlowKernelLoader.clear
    dfk = DataFlowKernelLoader.dfk
    wait_for_current_tasks = DataFlowKernelLoader.wait_for_current_tasks


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attr)
    elif name in _LOADER_METHODS:
        from parsl.dataflow.dflow import DataFlowKernelLoader

        value = getattr(DataFlowKernelLoader, name)
    else:
        raise AttributeError(f"module 'parsl' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))


def _install_compat_finder() -> None:
    try:
        from parsl.plugins import aliases
    except ImportError:
        return
    aliases.install()


_install_compat_finder()
