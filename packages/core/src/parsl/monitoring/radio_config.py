"""The monitoring radio configurations that executors in core and parsl-htex use as
their defaults, defined here so those executors need no monitoring plugin installed.

``ThreadPoolExecutor().remote_monitoring_radio`` is a :class:`MultiprocessingQueueRadio`
and ``HighThroughputExecutor().remote_monitoring_radio`` an :class:`HTEXRadio`, as in
Parsl. These classes only *name* a way of sending: a monitoring plugin (parsl-monitoring)
supplies the behaviour and re-exports them at Parsl's module paths
(``parsl.monitoring.radios.htex.HTEXRadio``, ``parsl.monitoring.radios.multiprocessing.
MultiprocessingQueueRadio``), so there is one class whichever path imported it.
"""
from __future__ import annotations


class RadioConfig:
    """Base of every monitoring radio (Parsl's ``parsl.monitoring.radios.base.RadioConfig``).

    An executor's ``remote_monitoring_radio`` must be one; a monitoring plugin starts the
    receiving half in the submitting process and the sending half where tasks run.
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class HTEXRadio(RadioConfig):
    """Workers send their monitoring events over the HighThroughputExecutor's own
    connections (worker -> manager -> interchange -> executor), beside the results:
    no extra socket, file or process. HighThroughputExecutor's default."""


class MultiprocessingQueueRadio(RadioConfig):
    """Events travel on a queue inside the submitting process: for executors whose tasks
    run there (the ThreadPoolExecutor's default, as in Parsl)."""
