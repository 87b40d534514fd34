"""Executors by their public Parsl names, from whichever distribution provides them.

``from parsl.executors import HighThroughputExecutor`` imports the class registered under
that name in the ``parsl.executors`` entry-point group (see :mod:`parsl.plugins.registry`);
nothing is imported until a name is used. A name of a known distribution that is not
installed raises ImportError naming ``pip install <distribution>``.
"""
from __future__ import annotations

from parsl.plugins import registry

__getattr__, __dir__ = registry.namespace("executor", __name__)
