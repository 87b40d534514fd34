"""An example third-party Parsl plugin distribution: see README.md."""
from __future__ import annotations

from parsl_example_plugin.executor import InlineExecutor

__all__ = ["InlineExecutor"]
