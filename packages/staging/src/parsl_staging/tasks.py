"""The two shapes of staging every protocol of parsl-staging comes in.

*Separate-task* staging adds a staging task to the graph: a Parsl app running on the same
executor as the task (so, like in Parsl, the worker and the file system it writes to must
be shared with the task's worker), which the task depends on (stage-in) or which depends
on the task (stage-out). *In-task* staging wraps the task's function so the transfer runs
in the task itself, on whichever worker runs it; no shared file system is needed.

Both hand the transfer to a *transport*: a small picklable object of the provider that
knows one protocol (:class:`Transport`) and does retries, timeouts, atomic writes and
checksums for it. The wrappers are partials of this module's functions (not closures, as
in Parsl, which must be serialized by value with every task).
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import weakref
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Protocol, Tuple

from parsl.data_provider.files import File
from parsl_staging.errors import StagingError
from parsl_staging.transfer import log_transfer, redact

if TYPE_CHECKING:
    from parsl.app.futures import DataFuture
    from parsl.data_provider.data_manager import DataManager

logger = logging.getLogger(__name__)


class Transport(Protocol):
    """Moves one file between its URL and a local path, or fails with StagingError."""

    def download(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        """Fetch ``file`` to ``local_path``; return the number of bytes transferred (0
        when the node cache's copy was reused)."""

    def upload(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        """Store ``local_path`` at ``file``'s URL; return the number of bytes."""


def current_task_id() -> Optional[int]:
    from parsl.data_provider.data_manager import staging_task_id

    return staging_task_id.get()


def fetch(transport: Transport, file: File, task_id: Optional[int]) -> None:
    """Stage ``file`` in to its ``local_path`` (runs on the execution side)."""
    assert file.local_path is not None
    started = time.monotonic()
    nbytes = transport.download(file, file.local_path, task_id)
    log_transfer("in", file.url, file.local_path, nbytes, time.monotonic() - started,
                 task_id)


def store(transport: Transport, file: File, task_id: Optional[int]) -> None:
    """Stage ``file`` out from its ``local_path`` (runs on the execution side)."""
    assert file.local_path is not None
    if not os.path.isfile(file.local_path):
        raise StagingError(redact(file.url), f"the task did not create {file.local_path!r}",
                           "out")
    started = time.monotonic()
    nbytes = transport.upload(file, file.local_path, task_id)
    log_transfer("out", file.url, file.local_path, nbytes, time.monotonic() - started,
                 task_id)


def _stage_in_task(transport: Transport, task_id: Optional[int], parent_fut: Any = None,
                   outputs: Any = (), _parsl_staging_inhibit: bool = True) -> None:
    fetch(transport, outputs[0], task_id)


def _stage_out_task(transport: Transport, task_id: Optional[int], app_fu: Any = None,
                    inputs: Any = (), _parsl_staging_inhibit: bool = True) -> None:
    store(transport, inputs[0], task_id)


#: Staging apps per DFK and executor: building an app inspects its signature, which
#: would otherwise cost more than the rest of submitting a staging task.
_apps: weakref.WeakKeyDictionary[Any, Dict[Tuple[str, Callable[..., Any]], Any]] = \
    weakref.WeakKeyDictionary()
_apps_lock = threading.Lock()


def _staging_app(dm: DataManager, executor: str, func: Callable[..., Any]) -> Any:
    with _apps_lock:
        per_dfk = _apps.setdefault(dm.dfk, {})
        app = per_dfk.get((executor, func))
        if app is None:
            from parsl.app.app import python_app

            app = python_app(executors=[executor], data_flow_kernel=dm.dfk)(func)
            per_dfk[(executor, func)] = app
        return app


def separate_stage_in(dm: DataManager, executor: str, file: File,
                      parent_fut: Optional[Future[Any]], transport: Transport) -> DataFuture:
    """Launch a staging task on ``executor`` that fetches ``file`` (its ``local_path`` set
    by the caller); the returned DataFuture completes when the file is in place."""
    app = _staging_app(dm, executor, _stage_in_task)
    app_fut = app(transport, current_task_id(), outputs=[file], _parsl_staging_inhibit=True,
                  parent_fut=parent_fut)
    return app_fut._outputs[0]  # type: ignore[no-any-return]


def separate_stage_out(dm: DataManager, executor: str, file: File, app_fu: Future[Any],
                       transport: Transport) -> Future[Any]:
    """Launch a staging task on ``executor`` that stores ``file`` after ``app_fu``."""
    app = _staging_app(dm, executor, _stage_out_task)
    return app(transport, current_task_id(), app_fu, inputs=[file],  # type: ignore
               _parsl_staging_inhibit=True)


def _stage_in_then_run(func: Callable[..., Any], transport: Transport, file: File,
                       task_id: Optional[int], *args: Any, **kwargs: Any) -> Any:
    fetch(transport, file, task_id)
    return func(*args, **kwargs)


def _run_then_stage_out(func: Callable[..., Any], transport: Transport, file: File,
                        task_id: Optional[int], *args: Any, **kwargs: Any) -> Any:
    result = func(*args, **kwargs)
    try:
        store(transport, file, task_id)
    except Exception:
        logger.error("task %s: stage-out of %s failed", task_id, redact(file.url),
                     exc_info=True, extra={"task_id": task_id})
        raise
    return result


def _rebuild_function(data: bytes) -> Callable[..., Any]:
    from parsl.serialize.facade import deserialize

    return deserialize(data, what="a staged task's function")  # type: ignore[no-any-return]


class _ByValue:
    """A task function a worker cannot import by name (one of ``__main__``, a local
    function): pickles as its by-value bytes from Parsl's serializer, which caches them
    per function on both sides, so wrapping it for staging costs no re-serialization."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __reduce__(self) -> Any:
        from parsl.serialize.facade import serialize

        return (_rebuild_function, (serialize(self.func, what="the task's function"),))


def _importable(func: Any) -> bool:
    """Whether pickle can send ``func`` by reference (a worker imports it by name)."""
    if isinstance(func, _ByValue):
        return True
    if isinstance(func, functools.partial):
        return _importable(func.func) and all(
            _importable(a) for a in (*func.args, *func.keywords.values()) if callable(a))
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return False
    target: Any = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return target is func


def _wrap(runner: Callable[..., Any], func: Callable[..., Any], transport: Transport,
          file: File) -> Callable[..., Any]:
    """``runner`` bound to the task as a partial of this module's functions, which plain
    pickle sends in microseconds; a task function that cannot travel by reference goes
    inside it as :class:`_ByValue`."""
    if not _importable(func):
        func = _ByValue(func)
    return functools.partial(runner, func, transport, file, current_task_id())


def in_task_stage_in(func: Callable[..., Any], transport: Transport,
                     file: File) -> Callable[..., Any]:
    """``func`` preceded by fetching ``file``, in the task."""
    return _wrap(_stage_in_then_run, func, transport, file)


def in_task_stage_out(func: Callable[..., Any], transport: Transport,
                      file: File) -> Callable[..., Any]:
    """``func`` followed by storing ``file``, in the task."""
    return _wrap(_run_then_stage_out, func, transport, file)
