"""parsl-monitoring: MonitoringHub, monitoring radios, the monitoring database,
parsl-visualize and progress displays.

Turn monitoring on with ``Config(monitoring=MonitoringHub())``; look at runs with
``parsl-visualize``. Nothing here is imported by ``import parsl``, and the names below are
loaded on first use: workers import :mod:`parsl_monitoring.remote` and must not pay for
the hub, SQLAlchemy or the web view.
"""
from __future__ import annotations

import importlib
from typing import Any, List

# Eager: the function ``progress`` shares its name with its module, which would shadow it
# once imported.
from parsl_monitoring.progress import ProgressDisplay, progress

_WHERE = {
    "MonitoringHub": "parsl_monitoring.hub",
    "FilesystemRadio": "parsl_monitoring.radios",
    "HTEXRadio": "parsl_monitoring.radios",
    "MonitoringRadio": "parsl_monitoring.radios",
    "MultiprocessingQueueRadio": "parsl_monitoring.radios",
    "UDPRadio": "parsl_monitoring.radios",
}
__all__ = ["FilesystemRadio", "HTEXRadio", "MonitoringHub", "MonitoringRadio",
           "MultiprocessingQueueRadio", "ProgressDisplay", "UDPRadio", "progress"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'parsl_monitoring' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_WHERE))
