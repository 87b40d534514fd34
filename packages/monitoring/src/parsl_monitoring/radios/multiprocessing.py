"""Parsl's module path ``parsl.monitoring.radios.multiprocessing``:
:class:`MultiprocessingQueueRadio`."""
from parsl_monitoring.radios import MultiprocessingQueueRadio

__all__ = ["MultiprocessingQueueRadio"]
