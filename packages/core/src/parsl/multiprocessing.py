"""Process helpers with the start method fixed, at Parsl's module path
``parsl.multiprocessing``.

Parsl's components start helper processes with the ``spawn`` method, so a child never
inherits the parent's threads, locks or ZeroMQ contexts half-copied (fork in a threaded
program can deadlock). These names let plugins and tests do the same without choosing a
context themselves.
"""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.process
from typing import Optional

logger = logging.getLogger(__name__)

__all__ = ["ForkContext", "ForkProcess", "SpawnContext", "SpawnEvent", "SpawnProcess",
           "SpawnQueue", "join_terminate_close_proc"]

ForkContext = multiprocessing.get_context("fork")
SpawnContext = multiprocessing.get_context("spawn")

#: A process started by forking (only where the caller knows no thread is running).
ForkProcess = ForkContext.Process
#: A process started by spawning a fresh interpreter.
SpawnProcess = SpawnContext.Process
#: An event usable across spawned processes.
SpawnEvent = SpawnContext.Event
#: A queue usable across spawned processes.
SpawnQueue = SpawnContext.Queue


def join_terminate_close_proc(process: multiprocessing.process.BaseProcess, *,
                              timeout: Optional[float] = 30) -> None:
    """End ``process`` for sure and release its resources.

    Waits up to ``timeout`` seconds for it to exit by itself; then sends SIGTERM and waits
    up to ``timeout`` again; then SIGKILL, which cannot be ignored. Each escalation is
    logged with the pid, so a component that does not stop is visible in the logs.
    """
    process.join(timeout)
    if process.exitcode is None:
        logger.warning("Process %s (pid %s) did not exit within %s s; sending SIGTERM",
                       process.name, process.pid, timeout)
        process.terminate()
        process.join(timeout)
        if process.exitcode is None:
            logger.warning("Process %s (pid %s) ignored SIGTERM for %s s; sending SIGKILL",
                           process.name, process.pid, timeout)
            process.kill()
            process.join()
    process.close()
