"""Errors raised when a task's function, arguments or result cannot be (de)serialized.

Both name the task and app (when known), which piece failed - ``the function``,
``positional argument 1``, ``keyword argument 'x'``, ``the result`` - and its type, and
carry the serializer's own exception as ``__cause__``. They pickle, so a worker can send
them back to the submitting process.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from parsl.errors import ParslError

if TYPE_CHECKING:
    from parsl.executors.base import TaskContext

__all__ = ["DeserializationError", "SerializationError", "SerializerError"]

_HELP = ("Only values that pickle or dill can serialize can cross process boundaries; "
         "pass something else (e.g. a file path instead of an open file), or register a "
         "serializer for this type (see parsl.serialize.facade.register_method_for_data).")


def _task_prefix(task: Optional[TaskContext]) -> str:
    if task is None:
        return ""
    return f"task {task.task_id} (app {task.app_name!r}, try {task.try_id}): "


class SerializerError(ParslError):
    """Base class of serialization errors."""


class SerializationError(SerializerError):
    """``what`` (of type ``type_name``) of a task could not be serialized."""

    def __init__(self, what: str, type_name: str, task: Optional[TaskContext] = None,
                 reason: str = "") -> None:
        super().__init__(what, type_name, task, reason)
        self.what = what
        self.type_name = type_name
        self.task = task
        self.reason = reason

    @property
    def fname(self) -> str:
        """The app's name, as Parsl's SerializationError calls it ("?" when unknown)."""
        return self.task.app_name if self.task is not None else "?"

    def __str__(self) -> str:
        reason = f": {self.reason}" if self.reason else ""
        return (f"{_task_prefix(self.task)}cannot serialize {self.what} of type "
                f"{self.type_name!r}{reason}. {_HELP}")


class DeserializationError(SerializerError):
    """A serialized message (``what``) could not be turned back into objects."""

    def __init__(self, reason: str, what: str = "the message",
                 task: Optional[TaskContext] = None) -> None:
        super().__init__(reason, what, task)
        self.reason = reason
        self.what = what
        self.task = task

    def __str__(self) -> str:
        return f"{_task_prefix(self.task)}cannot deserialize {self.what}: {self.reason}"


class DeserializerPluginError(ParslError):
    """A serialized value names a deserializer that cannot be loaded (Parsl's name)."""

    def __init__(self, header: bytes) -> None:
        self.header = header
        super().__init__(header)

    def __str__(self) -> str:
        return (f"Failed to load deserializer plugin for header {self.header!r}: no "
                "installed serializer registers it (see `parsl plugins`)")
