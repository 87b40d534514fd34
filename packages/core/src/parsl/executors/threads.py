"""ThreadPoolExecutor: runs tasks on threads of the submitting process.

The default executor (``parsl.load()`` with no config) and the DFK's internal executor
for join apps and other submit-side work. Its pool is a queue and a fixed set of threads
returning :class:`~parsl.dataflow.leanfuture.LeanFuture` objects: with no Condition per
future and no work-item object, submitting costs a fraction of
``concurrent.futures.ThreadPoolExecutor``'s, which matters when tasks are tiny.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import CancelledError
from typing import Any, Callable, Dict, List, Optional, Tuple

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.dataflow.leanfuture import LeanFuture
from parsl.errors import BadParameter
from parsl.executors.base import ParslExecutor, failing_together
from parsl.executors.errors import InvalidResourceSpecification

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


class ThreadPoolExecutor(ParslExecutor):
    """Run tasks on a pool of ``max_threads`` threads, with Parsl's parameters.

    Threads are daemons: at interpreter exit a task still running does not hold the
    process (the DFK's cleanup has already cancelled queued tasks by then).
    """

    @validate_init
    def __init__(self, label: str = "threads", max_threads: Optional[int] = 2,
                 thread_name_prefix: str = "", storage_access: Optional[List[Staging]] = None,
                 working_dir: Optional[str] = None,
                 remote_monitoring_radio: Optional[Any] = None) -> None:
        super().__init__()
        if max_threads is not None and max_threads < 1:
            raise BadParameter("ThreadPoolExecutor", "max_threads", max_threads,
                               "an int >= 1 or None")
        self.label = label
        self.max_threads = max_threads
        self.thread_name_prefix = thread_name_prefix
        self.storage_access = storage_access
        self.working_dir = working_dir
        #: A monitoring radio for in-process senders (as in Parsl); only a monitoring
        #: plugin reads it (None: its default, ``MultiprocessingQueueRadio``).
        self.remote_monitoring_radio = remote_monitoring_radio
        self._queue: queue.SimpleQueue[Optional[_WorkItem]] = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._started = False
        self._shutdown = False
        self._shutdown_lock = threading.Lock()

    def start(self) -> None:
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
