"""Launchers by their public Parsl names, from whichever distribution provides them.

``SimpleLauncher`` and ``SingleNodeLauncher`` come with parsl-core; ``SrunLauncher``,
``MpiExecLauncher`` and the other batch-system launchers with ``parsl-providers-hpc``.
Names resolve through the ``parsl.launchers`` entry-point group on first use (see
:mod:`parsl.plugins.registry`).
"""
from __future__ import annotations

from parsl.plugins import registry

__getattr__, __dir__ = registry.namespace("launcher", __name__)
