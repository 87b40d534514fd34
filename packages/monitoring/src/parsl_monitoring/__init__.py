"""parsl-monitoring: MonitoringHub, monitoring radios, the monitoring database,
parsl-visualize and progress displays.

Turn monitoring on with ``Config(monitoring=MonitoringHub())``; look at runs with
``parsl-visualize``. Nothing here is imported by ``import parsl``.
"""
from parsl_monitoring.hub import MonitoringHub
from parsl_monitoring.progress import ProgressDisplay, progress
from parsl_monitoring.radios import (
                                    FilesystemRadio,
                                    HTEXRadio,
                                    MonitoringRadio,
                                    MultiprocessingQueueRadio,
                                    UDPRadio,
)

__all__ = ["FilesystemRadio", "HTEXRadio", "MonitoringHub", "MonitoringRadio",
           "MultiprocessingQueueRadio", "ProgressDisplay", "UDPRadio", "progress"]
