"""AppFuture: the future returned by calling an app."""
from __future__ import annotations

import logging
from concurrent.futures import Future
from concurrent.futures._base import (  # noqa: F401 - Parsl re-exports these names
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from parsl.dataflow.leanfuture import LeanFuture
from parsl.dataflow.states import States

if TYPE_CHECKING:
    from parsl.app.futures import DataFuture
    from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger(__name__)

_CANCELLABLE_STATES = frozenset({States.unsched, States.pending})


class AppFuture(LeanFuture):
    """The future of one task: completes with the app's result or its final exception.

    Beyond ``concurrent.futures.Future`` it exposes the task (``tid``, ``task_record``),
    the files the task will produce (``outputs``), its ``stdout``/``stderr`` paths, and
    lifted operators: ``fut[key]`` and ``fut.attr`` are futures of ``result[key]`` and
    ``result.attr``, so they can be passed on to other apps before the task finishes.
    """

    # Set on the instance only for tasks with output files or File std streams: class
    # defaults keep them out of every other task's instance (fewer values for the garbage
    # collector to walk).
    _outputs: Optional[List[DataFuture]] = None
    _stdout_future: Optional[DataFuture] = None
    _stderr_future: Optional[DataFuture] = None

    def __init__(self, task_record: TaskRecord) -> None:
        # Named rather than super(): no super object per task.
        LeanFuture.__init__(self)
        self.task_record = task_record

    @property
    def tid(self) -> int:
        return self.task_record.id

    @property
    def task_id(self) -> int:
        return self.task_record.id

    @property
    def outputs(self) -> Sequence[DataFuture]:
        return self._outputs or []

    @property
    def stdout(self) -> Any:
        """What the app was given as ``stdout``: the path, path-like or (path, mode) tuple
        as passed (AUTO_LOGNAME resolved to its path), or for a File the DataFuture of its
        stage-out; None when not redirected."""
        return self._stdout_future or self.task_record.kwargs.get("stdout")

    @property
    def stderr(self) -> Any:
        """As :attr:`stdout`, for ``stderr``."""
        return self._stderr_future or self.task_record.kwargs.get("stderr")

    def task_status(self) -> str:
        """The name of the task's state (``pending``, ``launched``, ``exec_done``...).

        It can run ahead of the future: a task may be ``exec_done`` a moment before
        ``done()`` is true.
        """
        return self.task_record.status.name

    def cancel(self) -> bool:
        """Cancel the task if it has not been given to an executor yet.

        As with ``concurrent.futures``: returns False when the task is already running or
        done. Tasks that depend on a cancelled task fail with a DependencyError.
        """
        record = self.task_record
        if record.status not in _CANCELLABLE_STATES:
            exec_fu = record.exec_fu
            if record.status is States.launched and exec_fu is not None and exec_fu.cancel():
                return self._mark_cancelled()
            return False
        return self._mark_cancelled()

    def __getitem__(self, key: Any) -> AppFuture:
        return self.task_record.dfk._lifted_operation(self, "getitem", key)

    def __getattr__(self, name: str) -> AppFuture:
        # Private and dunder names must raise: pickle, copy and hasattr() probe them.
        if name.startswith("_"):
            raise AttributeError(name)
        return self.task_record.dfk._lifted_operation(self, "getattr", name)

    def __repr__(self) -> str:
        base = super().__repr__()
        record = self.__dict__.get("task_record")
        if record is None:
            return base
        return f"{base[:-1]} task_id={record.id} app={record.func_name!r}>"


def deferred_getitem(o: Any, k: Any) -> Any:
    """``o[k]``: what a lifted ``future[k]`` computes once ``future`` has its result."""
    return o[k]


def deferred_getattr(o: Any, name: str) -> Any:
    """``o.name``: what a lifted ``future.name`` computes once ``future`` has its result."""
    return getattr(o, name)


def is_future(obj: Any) -> bool:
    return isinstance(obj, Future)
