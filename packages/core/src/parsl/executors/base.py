"""The executor interface every execution backend implements.

The dataflow kernel (DFK) drives an executor through four calls: it sets ``run_dir`` and
``run_id``, calls ``start()`` once, calls ``submit()`` once per task try, and calls
``shutdown()`` once at cleanup. ``submit`` must return quickly with a
``concurrent.futures.Future`` that the executor completes later with the task's result, or
with an exception that says why the task could not run.
"""
from __future__ import annotations

import os
from abc import ABCMeta, abstractmethod
from concurrent.futures import Future
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Dict, NamedTuple, Optional

from typing_extensions import Self

if TYPE_CHECKING:
    from parsl.logconfigs.base import LogConfig


class TaskContext(NamedTuple):
    """Who is being submitted: lets executors put DFK ids into their logs and errors."""

    task_id: int
    try_id: int
    app_name: str


#: Set by the DFK around each ``executor.submit`` call (None outside one). Executors that
#: log per task, or name the task in serialization errors, read it with
#: ``submitting_task.get()``.
submitting_task: ContextVar[Optional[TaskContext]] = ContextVar("parsl_submitting_task",
                                                                default=None)


class ParslExecutor(metaclass=ABCMeta):
    """Abstract base of all executors.

    Attributes every executor has:

    ``label``
        unique name within a config; apps are pinned to executors by it.
    ``run_dir``
        the run's directory (``runinfo/NNN``), set by the DFK before ``start()``.
    ``run_id``
        the run's unique id, set by the DFK before ``start()``.
    ``log_config``
        the run's :class:`~parsl.logconfigs.LogConfig` when the Config names one (else
        None: the executor keeps its own logging), set by the DFK before ``start()``; an
        executor with processes of its own initializes it in each of them.
    """

    label: str = "undefined"
    log_config: Optional[LogConfig] = None
    radio_mode: str = "udp"

    def __init__(self, *, run_dir: str = ".", run_id: Optional[str] = None) -> None:
        self._run_dir = run_dir
        self.run_id = run_id

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    @abstractmethod
    def start(self) -> None:
        """Start the executor; called once by the DFK after ``run_dir`` is set."""

    @abstractmethod
    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``func(*args, **kwargs)`` somewhere and return a future for its result.

        ``resource_specification`` is the app's ``parsl_resource_specification`` (an empty
        dict when the app gave none); an executor that cannot honour a non-empty one must
        raise immediately with a message naming the unsupported keys.
        """

    def shutdown(self, block: bool = False) -> None:
        """Stop the executor and release every resource it holds. Must not hang."""

    def monitor_resources(self) -> bool:
        """Whether per-task resource monitoring should be attached to this executor."""
        return True

    @property
    def run_dir(self) -> str:
        return self._run_dir

    @run_dir.setter
    def run_dir(self, value: str) -> None:
        self._run_dir = value

    @property
    def executor_dir(self) -> str:
        """``run_dir/<label>``: the folder this executor's own logs belong in."""
        return os.path.join(self._run_dir, self.label)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} label={self.label!r}>"
