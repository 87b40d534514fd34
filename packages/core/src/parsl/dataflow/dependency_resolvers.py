"""How the DFK finds the futures an app call depends on: ``Config(dependency_resolver=...)``.

A :class:`DependencyResolver` is a pair of functions applied to every positional
argument, every keyword argument (but ``outputs``) and every item of ``inputs``:

``traverse_to_gather(value)``
    the futures inside ``value`` that must complete before the task may run;
``traverse_to_unwrap(value)``
    the value handed to the app once they have: ``value`` with each future replaced by
    its result.

:data:`SHALLOW_DEPENDENCY_RESOLVER` (the default) sees only futures passed directly.
:data:`DEEP_DEPENDENCY_RESOLVER` also looks inside lists, tuples, sets and dicts (keys
and values), at any depth. Both are built on :func:`functools.singledispatch`, so a
workflow teaches them a container type of its own with, for example::

    @deep_traverse_to_gather.register(MyBag)
    def _(bag): return [f for item in bag.items for f in deep_traverse_to_gather(item)]

    @deep_traverse_to_unwrap.register(MyBag)
    def _(bag): return MyBag([deep_traverse_to_unwrap(item) for item in bag.items])

When a gathered future fails, the task fails with a DependencyError carrying that
future's exception, as for direct arguments.
"""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from functools import singledispatch
from typing import Any, Callable, Dict, List, Sequence

__all__ = ["DEEP_DEPENDENCY_RESOLVER", "SHALLOW_DEPENDENCY_RESOLVER", "DependencyResolver",
           "deep_traverse_to_gather", "deep_traverse_to_unwrap", "shallow_traverse_to_gather",
           "shallow_traverse_to_unwrap"]


@dataclass
class DependencyResolver:
    """The two traversals the DFK applies to each app argument (see the module doc)."""

    traverse_to_gather: Callable[[Any], Sequence[Future[Any]]]
    traverse_to_unwrap: Callable[[Any], Any]


def _result_of(future: Future[Any]) -> Any:
    """The result of a future the DFK has seen complete successfully."""
    return future.result(timeout=0)


@singledispatch
def shallow_traverse_to_gather(value: Any) -> List[Future[Any]]:
    """Futures among ``value`` itself only: ``[value]`` for a future, else none."""
    return []


@shallow_traverse_to_gather.register(Future)
def _shallow_gather_future(value: Future[Any]) -> List[Future[Any]]:
    return [value]


@singledispatch
def shallow_traverse_to_unwrap(value: Any) -> Any:
    """A future's result; any other value unchanged."""
    return value


@shallow_traverse_to_unwrap.register(Future)
def _shallow_unwrap_future(value: Future[Any]) -> Any:
    return _result_of(value)


@singledispatch
def deep_traverse_to_gather(value: Any) -> List[Future[Any]]:
    """Futures in ``value`` and, recursively, in the lists, tuples, sets and dicts it holds."""
    return []


@deep_traverse_to_gather.register(Future)
def _deep_gather_future(value: Future[Any]) -> List[Future[Any]]:
    return [value]


@deep_traverse_to_gather.register(list)
@deep_traverse_to_gather.register(tuple)
@deep_traverse_to_gather.register(set)
@deep_traverse_to_gather.register(frozenset)
def _deep_gather_collection(value: Any) -> List[Future[Any]]:
    found: List[Future[Any]] = []
    for item in value:
        found.extend(deep_traverse_to_gather(item))
    return found


@deep_traverse_to_gather.register(dict)
def _deep_gather_dict(value: Dict[Any, Any]) -> List[Future[Any]]:
    found: List[Future[Any]] = []
    for key, item in value.items():
        found.extend(deep_traverse_to_gather(key))
        found.extend(deep_traverse_to_gather(item))
    return found


@singledispatch
def deep_traverse_to_unwrap(value: Any) -> Any:
    """``value`` with every future it holds (at any depth) replaced by its result."""
    return value


@deep_traverse_to_unwrap.register(Future)
def _deep_unwrap_future(value: Future[Any]) -> Any:
    return _result_of(value)


@deep_traverse_to_unwrap.register(list)
@deep_traverse_to_unwrap.register(set)
@deep_traverse_to_unwrap.register(frozenset)
def _deep_unwrap_collection(value: Any) -> Any:
    return type(value)(deep_traverse_to_unwrap(item) for item in value)


@deep_traverse_to_unwrap.register(tuple)
def _deep_unwrap_tuple(value: Any) -> Any:
    items = [deep_traverse_to_unwrap(item) for item in value]
    if hasattr(value, "_fields"):  # a namedtuple takes its fields as arguments
        return type(value)(*items)
    return type(value)(items)


@deep_traverse_to_unwrap.register(dict)
def _deep_unwrap_dict(value: Dict[Any, Any]) -> Any:
    return {deep_traverse_to_unwrap(key): deep_traverse_to_unwrap(item)
            for key, item in value.items()}


#: Resolve futures passed directly as arguments, keyword arguments or ``inputs`` items.
SHALLOW_DEPENDENCY_RESOLVER = DependencyResolver(
    traverse_to_gather=shallow_traverse_to_gather,
    traverse_to_unwrap=shallow_traverse_to_unwrap)

#: Also resolve futures inside lists, tuples, sets and dicts, at any depth.
DEEP_DEPENDENCY_RESOLVER = DependencyResolver(
    traverse_to_gather=deep_traverse_to_gather,
    traverse_to_unwrap=deep_traverse_to_unwrap)
