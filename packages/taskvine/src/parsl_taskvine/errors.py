"""Errors of the TaskVine and Work Queue executors, with Parsl's names and attributes."""
from __future__ import annotations

from typing import Optional

from parsl.app.errors import AppException
from parsl.errors import ParslError

__all__ = ["TaskVineFactoryFailure", "TaskVineManagerFailure", "TaskVineTaskFailure",
           "WorkQueueFailure", "WorkQueueTaskFailure"]


class TaskVineTaskFailure(AppException):
    """A task could not run to completion on TaskVine (not an exception of the app itself).

    ``reason`` says what happened and where (result, exit code, worker, exceeded resource);
    ``status`` is TaskVine's result code, or the task's exit code when it has one.
    """

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason, status)
        self.reason = reason
        self.status = status

    def __str__(self) -> str:
        return self.reason


class TaskVineManagerFailure(ParslError):
    """The TaskVine manager process failed or is gone; pending tasks cannot finish."""


class TaskVineFactoryFailure(ParslError):
    """The TaskVine worker factory could not be started or died."""


class WorkQueueTaskFailure(AppException):
    """A task could not run to completion on Work Queue (not an exception of the app itself).

    ``reason`` says what happened and where; ``status`` is Work Queue's result code or the
    task's exit code, or None.
    """

    def __init__(self, reason: str, status: Optional[int]) -> None:
        super().__init__(reason, status)
        self.reason = reason
        self.status = status

    def __str__(self) -> str:
        return self.reason


class WorkQueueFailure(ParslError):
    """The Work Queue manager process failed or is gone; pending tasks cannot finish."""
