"""Python apps: the function runs on an executor and its return value is the result."""
from __future__ import annotations

import ctypes
import functools
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, List, Literal, Optional, Sequence, Union

from parsl.app.app import AppBase
from parsl.app.errors import AppTimeout
from parsl.dataflow.dflow import DataFlowKernelLoader

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.futures import AppFuture

logger = logging.getLogger(__name__)


def run_with_walltime(func: Callable[..., Any], walltime: float, /, *args: Any,
                      **kwargs: Any) -> Any:
    """Run ``func`` and raise AppTimeout in it if it runs longer than ``walltime`` seconds.

    The exception is delivered asynchronously into the running thread, so a function
    blocked inside one long C call sees it only when that call returns.
    """
    thread_id = threading.get_ident()
    lock = threading.Lock()
    finished = False

    def expire() -> None:
        with lock:
            if not finished:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread_id),
                    ctypes.py_object(AppTimeout))

    timer = threading.Timer(walltime, expire)
    timer.daemon = True
    timer.start()
    try:
        return func(*args, **kwargs)
    except AppTimeout:
        raise AppTimeout(f"python_app {getattr(func, '__name__', func)!r} exceeded its "
                         f"walltime of {walltime} seconds") from None
    finally:
        with lock:
            finished = True
        timer.cancel()


def timeout(f: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """``f`` limited to ``seconds``: past that, AppTimeout is raised inside the running call.

    Parsl's helper behind ``walltime``; the wrapper keeps ``f``'s name and docstring.
    """
    @functools.wraps(f)
    def limited(*args: Any, **kwargs: Any) -> Any:
        return run_with_walltime(f, seconds, *args, **kwargs)

    return limited


class PythonApp(AppBase):
    """A Python function as an app (also used for join apps with ``join=True``)."""

    def __init__(self, func: Callable[..., Any],
                 data_flow_kernel: Optional[DataFlowKernel] = None, cache: bool = False,
                 executors: Union[List[str], Literal["all"]] = "all",
                 ignore_for_cache: Optional[Sequence[str]] = None, join: bool = False) -> None:
        super().__init__(func, data_flow_kernel=data_flow_kernel, executors=executors,
                         cache=cache, ignore_for_cache=ignore_for_cache)
        self.join = join

    def __call__(self, *args: Any, **kwargs: Any) -> AppFuture:
        invocation_kwargs = self._invocation_kwargs(kwargs) if self._call_defaults else kwargs
        func = self.func
        walltime = invocation_kwargs.get("walltime") if invocation_kwargs else None
        if walltime is not None:
            func = timeout(func, walltime)
        dfk = self.data_flow_kernel or DataFlowKernelLoader._dfk or self._dfk()
        return dfk.submit(func, args, executors=self.executors, cache=self.cache,
                          ignore_for_cache=self.ignore_for_cache, app_kwargs=invocation_kwargs,
                          join=self.join, func_name=self.__name__,
                          fn_hash=self._fn_hash_for_cache() if self.cache else None,
                          app_kind="join" if self.join else "python")
