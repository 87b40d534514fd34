"""``wrap_with_logs``: log how the top-level function of a thread or process ended.

An exception escaping a thread's target is printed to stderr at best and never reaches a
log file; wrapping the target makes every ending visible in the log of ``target``.
"""
from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Callable, Optional, TypeVar, Union, overload

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["wrap_with_logs"]


@overload
def wrap_with_logs(fn: F, target: str = ...) -> F: ...


@overload
def wrap_with_logs(fn: None = ..., target: str = ...) -> Callable[[F], F]: ...


def wrap_with_logs(fn: Optional[F] = None, target: str = __name__
                   ) -> Union[F, Callable[[F], F]]:
    """Decorate ``fn`` (bare, or with ``target=`` naming the logger) so that a normal end
    is logged at DEBUG and an exception at ERROR with its traceback, then re-raised."""

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            where = f"{func.__name__} on thread {threading.current_thread().name}"
            logger = logging.getLogger(target)
            try:
                result = func(*args, **kwargs)
            except Exception:
                logger.error("Exceptional ending for %s", where, exc_info=True)
                raise
            logger.debug("Normal ending for %s", where)
            return result

        return wrapped  # type: ignore[return-value]

    return decorator(fn) if fn is not None else decorator
