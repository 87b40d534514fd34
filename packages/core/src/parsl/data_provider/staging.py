"""The staging provider interface: how files reach and leave a task's execution site.

The DataManager asks each of an executor's ``storage_access`` providers in turn whether it
can stage a file; the first that can is used. A provider either transfers the file in a
separate submit-side task (``stage_in``/``stage_out`` return a future to wait on) or wraps
the app function so the transfer happens inside the task (``replace_task``).
"""
from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from parsl.app.futures import DataFuture
    from parsl.data_provider.data_manager import DataManager
    from parsl.data_provider.files import File


class Staging:
    """Base class of staging providers; every method's default means "not handled".

    For each File (or DataFuture of a File) passed to an app, the DataManager asks the
    executor's providers in order; the first whose ``can_stage_in`` (``can_stage_out``
    for ``outputs`` and File ``stdout``/``stderr``) returns True gets both ``stage_in``
    and ``replace_task`` (``stage_out`` and ``replace_task_stage_out``). Those calls
    receive a fresh copy of the user's File, which the provider may annotate (typically
    ``local_path``, where the task will find the file) without affecting the user's File
    or other tasks. ``dm.dfk`` is the DataFlowKernel, for launching staging apps
    (``python_app(..., data_flow_kernel=dm.dfk)``, called with
    ``_parsl_staging_inhibit=True`` so their own Files are not staged again).
    """

    def can_stage_in(self, file: File) -> bool:
        return False

    def can_stage_out(self, file: File) -> bool:
        return False

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> Optional[DataFuture]:
        """Prepare stage-in and start any transfer task; return a DataFuture of ``file``
        that the task waits for and receives instead of the File, or None (the task then
        receives the annotated copy). ``parent_fut`` is the future producing the file,
        if it came as a DataFuture; a transfer must wait for it."""
        return None

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        """Prepare stage-out, called before the task runs; any transfer must wait for
        ``app_fu``. Return a future of the transfer (the output's DataFuture completes
        with it), or None (the DataFuture completes with the task)."""
        return None

    def replace_task(self, dm: DataManager, executor: str, file: File,
                     func: Callable[..., Any]) -> Optional[Callable[..., Any]]:
        """Return a wrapper of ``func`` that stages ``file`` in inside the task, or None."""
        return None

    def replace_task_stage_out(self, dm: DataManager, executor: str, file: File,
                               func: Callable[..., Any]) -> Optional[Callable[..., Any]]:
        """Return a wrapper of ``func`` that stages ``file`` out inside the task, or None."""
        return None
