"""InlineExecutor: runs each task synchronously, in the thread that submits it.

Useful for debugging an app (breakpoints and tracebacks are in the submitting process,
no thread switch) and as the smallest complete example of a Parsl executor plugin.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any, Callable, Dict

from parsl._validation import validate_init
from parsl.errors import BadParameter
from parsl.executors.base import ParslExecutor

logger = logging.getLogger(__name__)


class InlineExecutor(ParslExecutor):
    """Run ``func(*args, **kwargs)`` inside ``submit`` and return an already done future.

    The app's exception, if any, is set on the future rather than raised, as every Parsl
    executor must do. Since the DFK waits for ``submit`` to return, tasks on this executor
    run one at a time; use it for small or debugging workloads.
    """

    @validate_init
    def __init__(self, label: str = "inline") -> None:
        super().__init__()
        if not label:
            raise BadParameter("InlineExecutor", "label", label, "a non-empty string")
        self.label = label
        self._started = False
        self.tasks_run = 0

    def start(self) -> None:
        self._started = True
        logger.debug("InlineExecutor %s started", self.label)

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        if resource_specification:
            raise BadParameter("InlineExecutor", "parsl_resource_specification",
                               resource_specification, "an empty dict (not supported)")
        if not self._started:
            raise RuntimeError(f"InlineExecutor {self.label!r} has not been started")
        future: Future[Any] = Future()
        try:
            result = func(*args, **kwargs)
        except BaseException as e:  # an app may raise anything; it belongs to the future
            future.set_exception(e)
        else:
            future.set_result(result)
        self.tasks_run += 1
        return future

    def shutdown(self, block: bool = False) -> None:
        """Nothing runs in the background, so there is nothing to wait for."""
        self._started = False
        logger.debug("InlineExecutor %s shut down after %d tasks", self.label, self.tasks_run)
