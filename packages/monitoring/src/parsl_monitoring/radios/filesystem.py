"""Parsl's module path ``parsl.monitoring.radios.filesystem``: :class:`FilesystemRadio`."""
from parsl_monitoring.radios import FilesystemRadio

__all__ = ["FilesystemRadio"]
