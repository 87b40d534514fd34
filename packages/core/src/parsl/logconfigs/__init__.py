"""Log configurations: how every Parsl process of a run writes its logs.

Give one to ``Config(initialize_logging=...)``; the DFK initializes it for ``parsl.log``
and executors pass it on to their own processes (the HTEX interchange, managers and
workers), each of which initializes it with its own log name. Subclass
:class:`LogConfig` for a policy of your own; it must survive pickling.
"""
from parsl.logconfigs.base import (
    LogConfig,
    oneshot_initialize_logging,
    oneshot_uninitialize_logging,
)
from parsl.logconfigs.file import FileLogging
from parsl.logconfigs.json import JSONHandler, JSONLogging
from parsl.logconfigs.noop import NoopLogging

__all__ = ["FileLogging", "JSONHandler", "JSONLogging", "LogConfig", "NoopLogging",
           "oneshot_initialize_logging", "oneshot_uninitialize_logging"]
