"""Errors the dataflow kernel raises into app futures."""
from __future__ import annotations

import traceback
from typing import List, NamedTuple, Optional, Sequence, Tuple

from parsl.errors import ConfigurationError, ParslError

__all__ = ["BadCheckpoint", "ConfigurationError", "DataFlowException", "DependencyError",
           "DuplicateTaskError", "JoinError", "RootCause", "UnknownExecutorError",
           "root_causes_of"]


class DataFlowException(ParslError):
    """Base class for dataflow kernel errors."""


class BadCheckpoint(DataFlowException):
    """A checkpoint file cannot be used."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class DuplicateTaskError(DataFlowException):
    """A task id was submitted twice; this is a bug in Parsl."""


class UnknownExecutorError(DataFlowException, ValueError):
    """An app asked for an executor label that the loaded config does not have."""

    def __init__(self, label: str, known: Sequence[str]) -> None:
        self.label = label
        self.known = list(known)
        super().__init__(f"app requested executor {label!r}, which is not in the loaded "
                         f"config; known executor labels: {', '.join(map(repr, self.known))}")


class RootCause(NamedTuple):
    """The original failure behind a chain of dependency failures."""

    task_id: Optional[int]
    app_name: Optional[str]
    exception: BaseException
    traceback_text: str

    def describe(self) -> str:
        who = "a future from outside Parsl" if self.task_id is None else \
            f"task {self.task_id} (app {self.app_name!r})"
        head = f"{who} failed with {type(self.exception).__name__}: {self.exception}"
        if not self.traceback_text:
            return head
        body = "\n".join("    " + line for line in self.traceback_text.rstrip().splitlines())
        return f"{head}\n  remote traceback:\n{body}"


def _traceback_text(exc: BaseException) -> str:
    remote = getattr(exc, "__parsl_remote_traceback__", None)
    if isinstance(remote, str):
        return remote
    if exc.__traceback__ is None:
        return ""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def root_causes_of(exc: BaseException, task_id: Optional[int],
                   app_name: Optional[str]) -> List[RootCause]:
    """The root failures behind ``exc``, which came from ``task_id`` running ``app_name``."""
    if isinstance(exc, PropagatedException):
        return list(exc.root_causes)
    return [RootCause(task_id, app_name, exc, _traceback_text(exc))]


class PropagatedException(DataFlowException):
    """A task failed because other futures it depended on failed.

    ``root_causes`` holds, for every original failure anywhere up the chain, the task id,
    app name, exception and its (remote) traceback text; ``__cause__`` is the first of them,
    so tracebacks show the original error.
    """

    kind = "Dependency"

    def __init__(self, dependent_exceptions_tids: Sequence[Tuple[BaseException, Optional[str]]],
                 task_id: int, root_causes: Optional[Sequence[RootCause]] = None,
                 app_name: Optional[str] = None) -> None:
        self.dependent_exceptions_tids = list(dependent_exceptions_tids)
        self.task_id = task_id
        self.app_name = app_name
        if root_causes is None:
            root_causes = [RootCause(None, None, e, _traceback_text(e))
                           for e, _ in self.dependent_exceptions_tids]
        self.root_causes = list(root_causes)
        # args stay flat: a repr that nested the dependencies' exceptions would recurse
        # once per task along a long chain of failures.
        super().__init__(task_id, [tid for _, tid in self.dependent_exceptions_tids])
        if self.root_causes:
            self.__cause__ = self.root_causes[0].exception

    def __str__(self) -> str:
        deps = ", ".join(tid or "<unknown>" for _, tid in self.dependent_exceptions_tids)
        app = f" (app {self.app_name!r})" if self.app_name else ""
        lines = [f"{self.kind} failure for task {self.task_id}{app} with failed "
                 f"dependencies from {deps}"]
        lines.extend("  root cause: " + cause.describe() for cause in self.root_causes)
        return "\n".join(lines)


class DependencyError(PropagatedException):
    """A dependency of this task failed, so the task was never run."""


class JoinError(PropagatedException):
    """A future returned by a join app failed."""

    kind = "Join"
