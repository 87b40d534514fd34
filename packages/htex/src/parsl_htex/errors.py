"""Exceptions raised by the HighThroughputExecutor and its processes.

Every exception here pickles cleanly (its ``args`` are its constructor arguments), because
the manager and the interchange create them and send them to the submit side, where they
become the exception of the task's future.
"""
from __future__ import annotations

from typing import Optional

from parsl.errors import ParslError


class WorkerLost(ParslError):
    """The worker process running a task died before returning a result.

    The task itself probably killed it (segfault, out of memory, ``os._exit``); the manager
    starts a replacement worker, and the DFK retries the task if ``retries`` allow.
    """

    def __init__(self, worker_id: str, hostname: str, detail: str = "") -> None:
        super().__init__(worker_id, hostname, detail)
        self.worker_id = worker_id
        self.hostname = hostname
        self.detail = detail

    def __str__(self) -> str:
        text = f"Task failure due to loss of worker {self.worker_id} on host {self.hostname}"
        return f"{text}: {self.detail}" if self.detail else text


class ManagerLost(ParslError):
    """The manager (worker pool) holding a task stopped answering heartbeats.

    The node crashed, the batch job ended, or the manager was frozen for longer than
    ``heartbeat_threshold`` seconds; its tasks are failed so they can be retried elsewhere.
    ``block_id`` is the manager's block; the executor adds what the provider says about
    that block (e.g. "block 0 (job 1234) ended with state TIMEOUT") to ``detail``.
    """

    def __init__(self, manager_id: str, hostname: str, detail: str = "",
                 block_id: Optional[str] = None) -> None:
        super().__init__(manager_id, hostname, detail, block_id)
        self.manager_id = manager_id
        self.hostname = hostname
        self.detail = detail
        self.block_id = block_id

    def add_block_state(self, text: str) -> None:
        """Append what is known about the manager's block to the message (and to ``args``,
        so a pickled copy says the same)."""
        self.detail = f"{self.detail}; {text}" if self.detail else text
        self.args = (self.manager_id, self.hostname, self.detail, self.block_id)

    def __str__(self) -> str:
        text = f"Task failure due to loss of manager {self.manager_id} on host {self.hostname}"
        return f"{text}: {self.detail}" if self.detail else text


class InterchangeLost(ParslError):
    """The interchange process exited while the executor was running.

    Every task that had not returned fails with this error, and so does every later
    ``submit``: nothing can reach the workers any more.
    """

    def __init__(self, label: str, detail: str) -> None:
        super().__init__(label, detail)
        self.label = label
        self.detail = detail

    def __str__(self) -> str:
        return f"The interchange of executor {self.label!r} is gone: {self.detail}"


class VersionMismatch(ParslError):
    """A manager runs a different Python or parsl-htex version than the submit side."""

    def __init__(self, interchange_version: str, manager_version: str) -> None:
        super().__init__(interchange_version, manager_version)
        self.interchange_version = interchange_version
        self.manager_version = manager_version

    def __str__(self) -> str:
        return (f"Manager version info {self.manager_version} does not match the "
                f"interchange's {self.interchange_version}; install the same Python "
                "major.minor and parsl-htex version on the workers")


class CommandTimeout(ParslError):
    """The interchange did not answer a command in time (it is overloaded or hung)."""

    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(command, timeout)
        self.command = command
        self.timeout = timeout

    def __str__(self) -> str:
        return f"The interchange did not answer command {self.command!r} within {self.timeout} s"


class RemoteTaskError(ParslError):
    """A task raised an exception that cannot be re-created on the submit side.

    Carries the original type name, message and remote traceback text instead.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(type_name, message, traceback_text)
        self.type_name = type_name
        self.message = message
        self.__parsl_remote_traceback__ = traceback_text

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"
