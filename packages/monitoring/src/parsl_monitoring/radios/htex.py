"""Parsl's module path ``parsl.monitoring.radios.htex``: :class:`HTEXRadio`."""
from parsl_monitoring.radios import HTEXRadio

__all__ = ["HTEXRadio"]
