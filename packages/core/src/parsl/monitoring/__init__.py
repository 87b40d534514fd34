"""Monitoring, provided by the ``parsl-monitoring`` distribution.

``from parsl.monitoring import MonitoringHub`` and Parsl's module paths below this package
(``parsl.monitoring.monitoring``, ``parsl.monitoring.radios`` ...) resolve to
parsl-monitoring's modules when it is installed, and otherwise raise ImportError naming
``pip install parsl-monitoring``. Monitoring radios registered in the
``parsl.monitoring_radios`` entry-point group are available here by name too.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Dict

from parsl.plugins import known, registry


def _from_module(module: str, name: str) -> Callable[[], Any]:
    def resolve() -> Any:
        return getattr(importlib.import_module(module), name)

    return resolve


_EXTRA: Dict[str, Callable[[], Any]] = {
    name: _from_module(module, name) for name, module in known.MONITORING_NAMES.items()
}

__getattr__, __dir__ = registry.namespace("monitoring_radio", __name__, extra=_EXTRA)
