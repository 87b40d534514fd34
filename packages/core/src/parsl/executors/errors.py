"""Errors raised by executors."""
from __future__ import annotations

from typing import Optional, Set

from parsl.errors import ParslError


class ExecutorError(ParslError):
    """Base class for errors an executor raises; names the executor."""

    def __init__(self, executor: object, reason: str) -> None:
        self.executor = executor
        self.reason = reason
        super().__init__(executor, reason)

    def __str__(self) -> str:
        label = getattr(self.executor, "label", self.executor)
        return f"Executor {label} failed due to: {self.reason}"


class BadStateException(ExecutorError):
    """The executor can no longer run tasks (e.g. every block failed).

    Parsl passes the exception that put the executor in that state; its text becomes
    ``reason`` and the exception itself is kept as ``exception``.
    """

    def __init__(self, executor: object, exception: object) -> None:
        self.exception = exception
        super().__init__(executor, str(exception))


class UnsupportedFeatureError(ExecutorError):
    """A task asked for a feature the executor does not have."""

    def __init__(self, feature: str, current_executor: str,
                 target_executor: Optional[str] = None) -> None:
        self.feature = feature
        self.current_executor = current_executor
        self.target_executor = target_executor
        ParslError.__init__(self, feature, current_executor, target_executor)

    def __str__(self) -> str:
        text = f"The {self.feature} parameter is not supported by {self.current_executor}"
        if self.target_executor:
            text += f": {self.target_executor}"
        return text


class ScalingFailed(ExecutorError):
    """Scaling out or in failed."""

    def __str__(self) -> str:
        label = getattr(self.executor, "label", self.executor)
        return f"Executor {label} failed to scale due to: {self.reason}"


class InvalidResourceSpecification(ExecutorError):
    """A parsl_resource_specification has unknown keys or bad values."""

    def __init__(self, invalid_keys: Set[str], message: Optional[str] = None) -> None:
        self.invalid_keys = invalid_keys
        self.message = message
        ParslError.__init__(self, invalid_keys, message)

    def __str__(self) -> str:
        return self.message or f"Invalid resource specification keys: {sorted(self.invalid_keys)}"


class BadMessage(ParslError):
    """A message from a worker or interchange was mangled, incomplete or of an unknown kind.

    ``reason`` says what was wrong with it.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __str__(self) -> str:
        return f"Received an unsupported message. Reason:{self.reason}"
