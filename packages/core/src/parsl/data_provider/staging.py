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
    """Base class of staging providers; every method's default means "not handled"."""

    def can_stage_in(self, file: File) -> bool:
        return False

    def can_stage_out(self, file: File) -> bool:
        return False

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> Optional[DataFuture]:
        """Start a transfer; return a future the task must wait for, or None."""
        return None

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        """Start a transfer after the task; return its future, or None."""
        return None

    def replace_task(self, dm: DataManager, executor: str, file: File,
                     func: Callable[..., Any]) -> Optional[Callable[..., Any]]:
        """Return a wrapper of ``func`` that stages ``file`` in inside the task, or None."""
        return None

    def replace_task_stage_out(self, dm: DataManager, executor: str, file: File,
                               func: Callable[..., Any]) -> Optional[Callable[..., Any]]:
        """Return a wrapper of ``func`` that stages ``file`` out inside the task, or None."""
        return None
