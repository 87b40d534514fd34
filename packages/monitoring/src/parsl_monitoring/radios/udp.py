"""Parsl's module path ``parsl.monitoring.radios.udp``: :class:`UDPRadio`."""
from parsl_monitoring.radios import UDPRadio

__all__ = ["UDPRadio"]
