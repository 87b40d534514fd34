"""Execution providers by their public Parsl names, from whichever distribution provides them.

``from parsl.providers import SlurmProvider`` imports the class registered under that name
in the ``parsl.providers`` entry-point group (see :mod:`parsl.plugins.registry`); nothing
is imported until a name is used. Without ``parsl-providers-hpc`` installed that import
raises ImportError naming ``pip install parsl-providers-hpc``.
"""
from __future__ import annotations

from parsl.plugins import registry

__getattr__, __dir__ = registry.namespace("provider", __name__)
