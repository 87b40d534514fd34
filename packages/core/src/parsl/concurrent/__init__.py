"""``ParslPoolExecutor``: Parsl behind the ``concurrent.futures.Executor`` interface.

Code written for ``ProcessPoolExecutor`` (``submit``, ``map``, ``shutdown``, ``with``)
runs its functions on a Parsl configuration instead. Each function becomes a python app
once per executor, so the futures returned are AppFutures and can be passed to other
calls as dependencies.
"""
from __future__ import annotations

import time
import warnings
from concurrent.futures import Executor
from typing import Any, Callable, Dict, Iterable, Iterator, List, Literal, Optional, Union

from parsl.app.python import PythonApp
from parsl.config import Config
from parsl.dataflow.dflow import DataFlowKernel, DataFlowKernelLoader
from parsl.dataflow.futures import AppFuture

__all__ = ["ParslPoolExecutor"]


class ParslPoolExecutor(Executor):
    """A ``concurrent.futures.Executor`` whose workers are those of a Parsl configuration.

    Give either ``config`` (this executor loads it now and cleans it up at
    :meth:`shutdown` or at the end of a ``with`` block) or ``dfk`` (an already loaded
    DataFlowKernel that stays under its owner's control). ``executors`` restricts which
    of the configuration's executors run the tasks.

    As in Parsl, running tasks are not cancelled: ``map`` stops waiting on a timeout but
    leaves submitted work running, and ``shutdown(cancel_futures=True)`` only warns.
    """

    def __init__(self, config: Optional[Config] = None, dfk: Optional[DataFlowKernel] = None,
                 executors: Union[Literal["all"], List[str]] = "all") -> None:
        if config is not None and dfk is not None:
            raise ValueError("Specify only one of config or dfk (ParslPoolExecutor)")
        if config is None and dfk is None:
            raise ValueError("Must specify one of config or dfk (ParslPoolExecutor)")
        self._config = config
        self._app_cache: Dict[Callable[..., Any], PythonApp] = {}
        self.executors = executors
        self._dfk: Optional[DataFlowKernel] = (
            DataFlowKernelLoader.load(config) if config is not None else dfk)

    def __enter__(self) -> ParslPoolExecutor:
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        if self._dfk is not None and self._config is not None:
            self.shutdown(wait=True)

    @property
    def app_count(self) -> int:
        """How many functions have been turned into apps by this executor."""
        return len(self._app_cache)

    def get_app(self, fn: Callable[..., Any]) -> PythonApp:
        """The python app running ``fn`` (made on first use, then reused)."""
        app = self._app_cache.get(fn)
        if app is None:
            app = PythonApp(fn, data_flow_kernel=self._dfk, executors=self.executors)
            self._app_cache[fn] = app
        return app

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> AppFuture:
        """Run ``fn(*args, **kwargs)`` as a task; its AppFuture."""
        if self._dfk is None:
            raise RuntimeError("ParslPoolExecutor has been shut down; cannot submit "
                               f"{getattr(fn, '__name__', fn)!r}")
        return self.get_app(fn)(*args, **kwargs)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any],
            timeout: Optional[float] = None, chunksize: int = 1,
            buffersize: Optional[int] = None) -> Iterator[Any]:
        """Submit ``fn`` for every tuple of ``iterables`` now; yield the results in order.

        ``chunksize`` and ``buffersize`` are accepted for compatibility and ignored. A
        ``timeout`` (seconds, for the whole map) raises TimeoutError when exceeded; tasks
        keep running.
        """
        if self._dfk is None:
            raise RuntimeError("ParslPoolExecutor has been shut down; cannot map "
                               f"{getattr(fn, '__name__', fn)!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        app = self.get_app(fn)
        futures = [app(*args) for args in zip(*iterables)]

        def results() -> Iterator[Any]:
            futures.reverse()
            while futures:
                future = futures.pop()
                if deadline is None:
                    yield future.result()
                else:
                    yield future.result(max(deadline - time.monotonic(), 0))

        return results()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Wait for submitted tasks (with ``wait``); clean up the DFK this executor loaded."""
        dfk = self._dfk
        if dfk is None:
            return
        if cancel_futures:
            warnings.warn("ParslPoolExecutor: cancelling tasks is not supported; "
                          "submitted tasks keep running", stacklevel=2)
        if wait:
            dfk.wait_for_current_tasks()
        if self._config is not None:
            dfk.cleanup()
        self._dfk = None
