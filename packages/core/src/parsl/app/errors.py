"""Exceptions raised by apps, as Parsl users catch them."""
from __future__ import annotations

from typing import Any, List, Optional, Union

from typeguard import TypeCheckError

from parsl.errors import ParslError


class AppException(ParslError):
    """Base class for errors that happen while an app runs."""


class BashExitFailure(AppException):
    """A bash app's command exited with a non-zero code."""

    def __init__(self, app_name: str, exitcode: int) -> None:
        self.app_name = app_name
        self.exitcode = exitcode
        super().__init__(app_name, exitcode)

    def __str__(self) -> str:
        return f"bash_app {self.app_name} failed with unix exit code {self.exitcode}"


class AppTimeout(AppException):
    """An app ran longer than its ``walltime``."""


class BashAppNoReturn(AppException):
    """A bash app's function did not return a command string."""


class AppBadFormatting(AppException):
    """A bash app's command string could not be formatted with its arguments."""


class MissingOutputs(ParslError):
    """An app finished but some of its declared ``outputs`` files do not exist."""

    def __init__(self, reason: str, outputs: List[Any]) -> None:
        self.reason = reason
        self.outputs = outputs
        super().__init__(reason, outputs)

    def __str__(self) -> str:
        return f"Missing Outputs: {self.outputs}, Reason: {self.reason}"


class BadStdStreamFile(ParslError):
    """The ``stdout``/``stderr`` argument of an app is not usable."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __str__(self) -> str:
        return f"Bad Stream File: {self.reason}"


class BadStdStreamSpec(TypeCheckError, BadStdStreamFile):
    """A ``stdout``/``stderr`` argument of the wrong shape (a list, a 3-tuple, a mode that
    is not a string...). A ``typeguard.TypeCheckError``, as Parsl raises for these, and a
    BadStdStreamFile."""

    def __init__(self, reason: str) -> None:
        TypeCheckError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"Bad Stream File: {self.reason}"


class RemoteExceptionWrapper:
    """Carries an exception and its traceback text across a process boundary.

    Executors that run tasks remotely may return one of these; ``reraise`` raises the
    original exception type with the remote traceback text attached as
    ``__parsl_remote_traceback__`` so dependency errors can quote it.
    """

    def __init__(self, e_type: type, e_value: BaseException, traceback_text: str) -> None:
        self.e_type = e_type
        self.e_value = e_value
        self.traceback_text = traceback_text

    def get_exception(self) -> BaseException:
        exc = self.e_value
        try:
            exc.__parsl_remote_traceback__ = self.traceback_text  # type: ignore[attr-defined]
        except AttributeError:
            pass
        return exc

    def reraise(self) -> None:
        raise self.get_exception()


def wrap_error(exc: Union[BaseException, Any]) -> Optional[RemoteExceptionWrapper]:
    """Wrap a live exception (with its current traceback) for transport."""
    if not isinstance(exc, BaseException):
        return None
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return RemoteExceptionWrapper(type(exc), exc, text)
