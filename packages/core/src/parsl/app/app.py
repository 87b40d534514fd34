"""The app decorators: ``@python_app``, ``@bash_app`` and ``@join_app``.

Each works bare (``@python_app``) or with arguments (``@python_app(executors=["htex"])``),
on plain functions, functions from other modules, ``functools.partial`` objects and other
callables.
"""
from __future__ import annotations

import functools
import inspect
import logging
from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional, Sequence, Union

from parsl.dataflow.dflow import AUTO_LOGNAME, DataFlowKernelLoader

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.futures import AppFuture

__all__ = ["AUTO_LOGNAME", "AppBase", "bash_app", "join_app", "python_app"]

logger = logging.getLogger(__name__)

#: Parameters whose declared defaults Parsl reads from the app's signature.
_SPECIAL_DEFAULTS = ("stdout", "stderr", "walltime", "parsl_resource_specification",
                     "inputs", "outputs")


def _callable_name(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None)
    if isinstance(name, str):
        return name
    if isinstance(func, functools.partial):
        return _callable_name(func.func)
    return type(func).__name__


class AppBase(metaclass=ABCMeta):
    """An app: calling it submits a task to the DFK and returns an AppFuture."""

    def __init__(self, func: Callable[..., Any],
                 data_flow_kernel: Optional[DataFlowKernel] = None,
                 executors: Union[List[str], Literal["all"]] = "all",
                 cache: bool = False, ignore_for_cache: Optional[Sequence[str]] = None) -> None:
        if not callable(func):
            raise TypeError(f"an app must wrap a callable, got {func!r} ({type(func).__name__})")
        if executors != "all" and (isinstance(executors, str)
                                   or not all(isinstance(e, str) for e in executors)):
            raise TypeError(f"app {_callable_name(func)!r}: executors must be 'all' or a list "
                            f"of executor labels, got {executors!r}")
        if ignore_for_cache is not None and (isinstance(ignore_for_cache, str) or not all(
                isinstance(k, str) for k in ignore_for_cache)):
            raise TypeError(f"app {_callable_name(func)!r}: ignore_for_cache must be a list "
                            f"of argument names, got {ignore_for_cache!r}")
        self.func = func
        self.__name__ = _callable_name(func)
        functools.update_wrapper(self, func)
        self.__name__ = _callable_name(func)
        self.data_flow_kernel = data_flow_kernel
        self.executors = executors
        self.cache = cache
        self.ignore_for_cache = list(ignore_for_cache) if ignore_for_cache else []
        self.kwargs: Dict[str, Any] = {}
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        for name in _SPECIAL_DEFAULTS:
            param = params.get(name)
            if param is not None and param.default is not inspect.Parameter.empty:
                self.kwargs[name] = param.default
        self.inputs = self.kwargs.get("inputs", [])
        self.outputs = self.kwargs.get("outputs", [])
        # The defaults a call must carry: a None default is what the function gets
        # anyway and what the DFK assumes for a missing key, so leaving it out saves a
        # dict per task. Memoized apps keep them all: memo keys hash the merged kwargs,
        # as Parsl's do, so checkpoints stay interchangeable.
        self._call_defaults: Dict[str, Any] = (
            dict(self.kwargs) if cache
            else {k: v for k, v in self.kwargs.items() if v is not None})
        self._fn_hash: Optional[str] = None

    def _dfk(self) -> DataFlowKernel:
        return self.data_flow_kernel or DataFlowKernelLoader.dfk()

    def _fn_hash_for_cache(self) -> Optional[str]:
        if not self.cache:
            return None
        if self._fn_hash is None:
            from parsl.dataflow.memoization import function_identity

            self._fn_hash = function_identity(self.func)
        return self._fn_hash

    def _invocation_kwargs(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        if not self._call_defaults:
            return kwargs
        merged = dict(self._call_defaults)
        merged.update(kwargs)
        for name in ("inputs", "outputs"):
            if name in merged and name not in kwargs:
                merged[name] = list(merged[name])
        return merged

    @abstractmethod
    def __call__(self, *args: Any, **kwargs: Any) -> AppFuture:
        """Submit a task and return its future."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"


def python_app(function: Optional[Callable[..., Any]] = None,
               data_flow_kernel: Optional[DataFlowKernel] = None, cache: bool = False,
               executors: Union[List[str], Literal["all"]] = "all",
               ignore_for_cache: Optional[List[str]] = None) -> Any:
    """Make a Python function an app: calls return futures and run on an executor."""
    from parsl.app.python import PythonApp

    def decorator(func: Callable[..., Any]) -> PythonApp:
        return PythonApp(func, data_flow_kernel=data_flow_kernel, cache=cache,
                         executors=executors, ignore_for_cache=ignore_for_cache)

    return decorator(function) if function is not None else decorator


def join_app(function: Optional[Callable[..., Any]] = None,
             data_flow_kernel: Optional[DataFlowKernel] = None, cache: bool = False,
             ignore_for_cache: Optional[List[str]] = None) -> Any:
    """Make a function that returns futures (a sub-workflow) an app.

    The function runs on the DFK's internal executor; its future completes with the
    result of the future it returned (or the list of results of a returned list).
    """
    from parsl.app.python import PythonApp

    def decorator(func: Callable[..., Any]) -> PythonApp:
        return PythonApp(func, data_flow_kernel=data_flow_kernel, cache=cache,
                         executors=["_parsl_internal"], ignore_for_cache=ignore_for_cache,
                         join=True)

    return decorator(function) if function is not None else decorator


def bash_app(function: Optional[Callable[..., Any]] = None,
             data_flow_kernel: Optional[DataFlowKernel] = None, cache: bool = False,
             executors: Union[List[str], Literal["all"]] = "all",
             ignore_for_cache: Optional[List[str]] = None) -> Any:
    """Make a function returning a shell command an app that runs the command.

    The function is called on the worker to build the command; a non-zero exit raises
    BashExitFailure, declared ``outputs`` that were not produced raise MissingOutputs.
    """
    from parsl.app.bash import BashApp

    def decorator(func: Callable[..., Any]) -> BashApp:
        return BashApp(func, data_flow_kernel=data_flow_kernel, cache=cache,
                       executors=executors, ignore_for_cache=ignore_for_cache)

    return decorator(function) if function is not None else decorator
