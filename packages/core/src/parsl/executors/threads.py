"""ThreadPoolExecutor: runs tasks on threads of the submitting process.

The default executor (``parsl.load()`` with no config) and the DFK's internal executor
for join apps and other submit-side work. Its pool is a queue and a fixed set of threads
returning :class:`~parsl.dataflow.leanfuture.LeanFuture` objects: with no Condition per
future and no work-item object, submitting costs a fraction of
``concurrent.futures.ThreadPoolExecutor``'s, which matters when tasks are tiny.
"""
from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
from concurrent.futures import CancelledError
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.dataflow.leanfuture import LeanFuture
from parsl.errors import BadParameter
from parsl.executors.base import ParslExecutor, failing_together
from parsl.executors.errors import InvalidResourceSpecification
from parsl.monitoring.radio_config import MultiprocessingQueueRadio, RadioConfig

logger = logging.getLogger(__name__)

_WorkItem = Tuple[LeanFuture, Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]


def _work(items: queue.SimpleQueue[Optional[_WorkItem]]) -> None:
    """Run queued items until the ``None`` sentinel arrives."""
    while True:
        item = items.get()
        if item is None:
            return
        future, func, args, kwargs = item
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = func(*args, **kwargs)
        except BaseException as e:
            future.set_exception(e)
        else:
            future.set_result(result)
        del item, future, func, args, kwargs


class TaskObserver(Protocol):
    """Told when each task starts and ends on its thread (a monitoring plugin's worker
    side); both calls run on that thread and must be quick. The same contract as an
    HTEX worker's observer, with ``dfk_task_id`` None: the plugin matches tries by the
    ``parsl_executor_task_id`` of the future :meth:`ThreadPoolExecutor.submit` returns."""

    def task_started(self, executor_task_id: int, dfk_task_id: Optional[int]) -> None: ...

    def task_ended(self, executor_task_id: int, dfk_task_id: Optional[int],
                   ok: bool) -> None: ...


def _observed(observer: TaskObserver, executor_task_id: int, func: Callable[..., Any], /,
              *args: Any, **kwargs: Any) -> Any:
    """Run a task between its observer's two calls (only when a plugin observes)."""
    observer.task_started(executor_task_id, None)
    ok = False
    try:
        result = func(*args, **kwargs)
        ok = True
        return result
    finally:
        observer.task_ended(executor_task_id, None, ok)


class ThreadPoolExecutor(ParslExecutor):
    """Run tasks on a pool of ``max_threads`` threads, with Parsl's parameters.

    Threads are daemons: at interpreter exit a task still running does not hold the
    process (the DFK's cleanup has already cancelled queued tasks by then).
    """

    @validate_init
    def __init__(self, label: str = "threads", max_threads: Optional[int] = 2,
                 thread_name_prefix: str = "", storage_access: Optional[List[Staging]] = None,
                 working_dir: Optional[str] = None,
                 remote_monitoring_radio: Optional[RadioConfig] = None) -> None:
        super().__init__()
        if max_threads is not None and max_threads < 1:
            raise BadParameter("ThreadPoolExecutor", "max_threads", max_threads,
                               "an int >= 1 or None")
        self.label = label
        self.max_threads = max_threads
        self.thread_name_prefix = thread_name_prefix
        self.storage_access = storage_access
        self.working_dir = working_dir
        #: How a monitoring plugin carries the tasks' events (as in Parsl; default
        #: ``MultiprocessingQueueRadio()``, a queue inside this process).
        self.remote_monitoring_radio: RadioConfig = \
            remote_monitoring_radio if remote_monitoring_radio is not None \
            else MultiprocessingQueueRadio()
        #: Set by a monitoring plugin before ``start()``: told when each task starts and
        #: ends on its thread. None (no plugin) costs submit one test and nothing else.
        self.task_observer: Optional[TaskObserver] = None
        self._task_ids = itertools.count(1)
        self._queue: queue.SimpleQueue[Optional[_WorkItem]] = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._started = False
        self._shutdown = False
        self._shutdown_lock = threading.Lock()

    def start(self) -> None:
        if self._shutdown:
            # The same config loaded again after a cleanup (a notebook's second
            # ``parsl.load(config)``, Parsl's tests reusing a config module): a fresh pool.
            self._queue = queue.SimpleQueue()
            self._threads = []
            self._shutdown = False
        count = self.max_threads or min(32, (os.cpu_count() or 1) + 4)
        prefix = self.thread_name_prefix or f"parsl-{self.label}"
        for index in range(count):
            thread = threading.Thread(target=_work, args=(self._queue,), daemon=True,
                                      name=f"{prefix}_{index}")
            thread.start()
            self._threads.append(thread)
        self._started = True

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> LeanFuture:
        if resource_specification:
            # Parsl's type, so scripts catching it keep working.
            raise InvalidResourceSpecification(
                set(resource_specification),
                f"ThreadPoolExecutor {self.label!r} does not support "
                f"parsl_resource_specification (got keys {sorted(resource_specification)}); "
                "use an executor that does, such as HighThroughputExecutor")
        if self._shutdown or not self._started:
            state = "shut down" if self._shutdown else "not been started"
            raise RuntimeError(f"ThreadPoolExecutor {self.label!r} has {state}")
        future = LeanFuture()
        observer = self.task_observer
        if observer is not None:
            executor_task_id = next(self._task_ids)
            future.parsl_executor_task_id = executor_task_id  # type: ignore[attr-defined]
            args = (observer, executor_task_id, func, *args)
            func = _observed
        self._queue.put((future, func, args, kwargs))
        return future

    def shutdown(self, block: bool = False) -> None:
        """Stop the threads after their current task and cancel every queued task.

        With ``block`` wait for the running tasks to end.
        """
        with self._shutdown_lock:
            if self._shutdown:
                return
            self._shutdown = True
        logger.debug("Shutting down ThreadPoolExecutor %s", self.label)
        cancelled = 0
        # As one batch: the DFK fails 100,000 cancelled tasks in one pass and one line.
        with failing_together(CancelledError(f"executor {self.label!r} was shut down")) \
                as batch:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None and item[0].cancel():
                    cancelled += 1
        if cancelled:
            logger.info("ThreadPoolExecutor %s cancelled %d queued tasks at shutdown%s",
                        self.label, cancelled, batch.summary())
        for _ in self._threads:
            self._queue.put(None)
        if not block:
            # Running tasks are not waited for; bash commands among them end with the run.
            from parsl.app.bash import stop_running_commands

            stop_running_commands()
        if block:
            for thread in self._threads:
                thread.join()

    def monitor_resources(self) -> bool:
        return False
