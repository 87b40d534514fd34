"""Construction-time type checks for configuration objects.

Configuration classes (Config, executors, providers, launchers) decorate ``__init__`` with
:func:`validate_init`. Every argument is checked once against its annotation with typeguard
when the object is built, so a wrong type fails at the line that built the config and not
hours later in a batch job. Nothing here runs per task.
"""
from __future__ import annotations

import functools
import inspect
import typing
from typing import Any, Callable, Dict, TypeVar

from parsl.errors import BadParameter

F = TypeVar("F", bound=Callable[..., Any])

_type_check_error_class: Any = None


def _type_check_error() -> Any:
    """The class raised for a wrongly typed argument, built on first use (it derives from
    typeguard's, which is imported only when something is validated)."""
    global _type_check_error_class
    if _type_check_error_class is None:
        import collections

        import typeguard

        class TypeCheckError(BadParameter, typeguard.TypeCheckError):
            """A constructor argument of the wrong type: a BadParameter (so a TypeError and
            a ConfigurationError) and a ``typeguard.TypeCheckError``, under that name, as
            Parsl's typeguard-checked constructors raise it."""

            def __init__(self, *args: Any) -> None:
                BadParameter.__init__(self, *args)
                self._path: Any = collections.deque()

        TypeCheckError.__module__ = "parsl.errors"
        _type_check_error_class = TypeCheckError
    return _type_check_error_class

_hints_cache: Dict[Any, Dict[str, Any]] = {}


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    text = repr(annotation)
    return text.replace("typing.", "").replace("typing_extensions.", "")


def check_parameter(owner: str, name: str, value: Any, annotation: Any,
                    where: str | None = None) -> None:
    """Raise BadParameter (as a ``TypeCheckError``) if ``value`` does not match
    ``annotation``."""
    import typeguard

    try:
        typeguard.check_type(value, annotation,
                             collection_check_strategy=typeguard.CollectionCheckStrategy.ALL_ITEMS)
    except typeguard.TypeCheckError:
        raise _type_check_error()(owner, name, value, _type_name(annotation),
                                  where) from None


def _hints_for(func: Callable[..., Any]) -> Dict[str, Any]:
    hints = _hints_cache.get(func)
    if hints is None:
        try:
            hints = typing.get_type_hints(func)
        except Exception:
            hints = _resolve_individually(func)
        hints.pop("return", None)
        _hints_cache[func] = hints
    return hints


def _resolve_individually(func: Callable[..., Any]) -> Dict[str, Any]:
    """Resolve each annotation on its own, skipping those naming types that are only
    imported for type checking (they cannot be checked at run time anyway)."""
    namespace = dict(getattr(func, "__globals__", {}))
    hints: Dict[str, Any] = {}
    for name, annotation in getattr(func, "__annotations__", {}).items():
        if not isinstance(annotation, str):
            hints[name] = annotation
            continue
        try:
            hints[name] = eval(annotation, namespace)
        except Exception:
            continue
    return hints


def validate_arguments(owner: str, func: Callable[..., Any], bound: inspect.BoundArguments,
                       where: str | None = None) -> None:
    hints = _hints_for(func)
    sig_params = bound.signature.parameters
    for name, value in bound.arguments.items():
        if name == "self" or name not in hints:
            continue
        kind = sig_params[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            for item in value:
                check_parameter(owner, name, item, hints[name], where)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            for key, item in value.items():
                check_parameter(owner, key, item, hints[name], where)
        else:
            check_parameter(owner, name, value, hints[name], where)


def validate_init(init: F) -> F:
    """Check ``__init__`` arguments against their annotations when an object is built.

    A missing or unexpected argument raises TypeError naming the class; a wrongly typed one
    raises :class:`parsl.errors.BadParameter` naming the class, parameter, value and the
    expected type.
    """
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        owner = type(self).__name__
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{owner}: {e}") from None
        validate_arguments(owner, init, bound)
        init(self, *args, **kwargs)

    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    return typing.cast(F, wrapper)
