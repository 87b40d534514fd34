"""Exceptions shared by every Parsl package.

Each error names the thing that went wrong, the offending value and what to do, so a
user reading a traceback from a long run does not need to open the source.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence


class ParslError(Exception):
    """Base class for all exceptions raised by Parsl itself."""


class ConfigurationError(ParslError):
    """A configuration value is wrong in a way only detectable once it is combined."""


class BadParameter(ConfigurationError, TypeError, ValueError):
    """A constructor parameter has the wrong type or value.

    Subclasses TypeError and ValueError so code that catches the conventional exception
    (Parsl raises one or the other, depending on the parameter) still works.
    """

    def __init__(self, owner: str, parameter: str, value: Any, expected: str,
                 where: Optional[str] = None) -> None:
        self.owner = owner
        self.parameter = parameter
        self.value = value
        self.expected = expected
        self.where = where
        super().__init__(owner, parameter, value, expected, where)

    def __str__(self) -> str:
        value = repr(self.value)
        if len(value) > 200:
            value = value[:197] + "..."
        prefix = f"{self.where}: " if self.where else ""
        return (f"{prefix}{self.owner}: parameter '{self.parameter}' got {value} "
                f"({type(self.value).__name__}); expected {self.expected}")


class NoDataFlowKernelError(ParslError):
    """An app was invoked before a configuration was loaded with parsl.load()."""


class InternalConsistencyError(ParslError):
    """Parsl's own invariants were violated; this is a bug to report."""


class OptionalModuleMissing(ParslError, ImportError):
    """A feature needs a third-party module that is not installed."""

    def __init__(self, modules: Sequence[str], reason: str) -> None:
        self.modules = list(modules)
        self.reason = reason
        super().__init__(f"The functionality requested requires missing optional modules "
                         f"{self.modules}, because: {reason}")


class PluginNotInstalled(ImportError):
    """A public name belongs to a Parsl distribution that is not installed."""

    def __init__(self, name: str, kind: str, distribution: str, module: str) -> None:
        self.name = name
        self.kind = kind
        self.distribution = distribution
        super().__init__(
            f"{kind} {name!r} is provided by the distribution {distribution!r}, which is not "
            f"installed. Install it with: pip install {distribution}", name=name)
        self.module = module


class ComponentNotProvided(ParslError, ImportError):
    """A Parsl component name that the installed distributions do not provide: either no
    distribution of this project implements it, or the distribution that should is
    installed but does not register it (an older version)."""

    def __init__(self, name: str, kind: str, module: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"cannot import {kind} {name!r} from {module!r}: {reason}",
                         name=name)


class PluginConflict(ParslError):
    """Two installed distributions register the same public name for one kind."""

    def __init__(self, kind: str, name: str, claimants: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.claimants = list(claimants)
        super().__init__(f"{kind} name {name!r} is registered by more than one plugin: "
                         + ", ".join(self.claimants)
                         + ". Uninstall one of them.")


class UnknownComponent(ParslError, LookupError):
    """A registry name that no installed or known distribution provides."""

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        super().__init__(f"no {kind} named {name!r} is installed; known {kind}s: "
                         + (", ".join(self.known) or "(none)"))


def copy_exception(exception: BaseException) -> BaseException:
    """A fresh exception equal to ``exception`` (type, args, attributes, cause), with no
    traceback of its own.

    Failing many futures with one exception object makes every ``result()`` call add its
    frames to that object's traceback, so the thousandth reader gets thousands of frames
    and formatting them costs time proportional to all the readers before. Executors that
    fail many tasks for one reason (a lost interchange, shutdown) give each future its own
    copy. ``__init__`` is not called, so copies of exceptions with any constructor work;
    if the type cannot be copied at all the original is returned.
    """
    cls = type(exception)
    try:
        new = cls.__new__(cls, *exception.args)
        new.__dict__.update(exception.__dict__)
        new.args = exception.args
    except Exception:
        return exception
    new.__cause__ = exception.__cause__
    new.__context__ = exception.__context__
    new.__suppress_context__ = exception.__suppress_context__
    return new


def exception_copier(exception: BaseException) -> Callable[[], BaseException]:
    """A function returning a new copy of ``exception`` (as :func:`copy_exception`) per call.

    Everything about the original is inspected once here, so failing 100,000 futures costs
    one object allocation each. If the type cannot be copied, the function returns the
    original every time.
    """
    cls = type(exception)
    args = exception.args
    state = dict(getattr(exception, "__dict__", {}))
    try:
        probe = cls.__new__(cls, *args)
        probe.__dict__.update(state)
        probe.args = args
    except Exception:
        return lambda: exception
    cause = exception.__cause__
    context = exception.__context__
    suppress = exception.__suppress_context__
    new = cls.__new__
    # BaseException.__new__ needs no arguments (``args`` is set on the copy anyway), and
    # passing none saves building a tuple per copy.
    new_args = () if new is BaseException.__new__ else args
    if cause is None and context is None and not suppress:
        if state:
            copy_state = state.copy

            def copy_with_state() -> BaseException:
                copy = new(cls, *new_args)
                copy.__dict__ = copy_state()
                copy.args = args
                return copy
            return copy_with_state

        def copy_plain() -> BaseException:
            copy = new(cls, *new_args)
            copy.args = args
            return copy
        return copy_plain

    def copy_chained() -> BaseException:
        copy = new(cls, *new_args)
        copy.__dict__.update(state)
        copy.args = args
        copy.__cause__ = cause
        copy.__context__ = context
        copy.__suppress_context__ = suppress
        return copy
    return copy_chained
