"""ThreadPoolExecutor: runs tasks on threads of the submitting process.

The default executor (``parsl.load()`` with no config) and the DFK's internal executor
for join apps and other submit-side work.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
from typing import Any, Callable, Dict, List, Optional

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.errors import BadParameter
from parsl.executors.base import ParslExecutor
from parsl.executors.errors import UnsupportedFeatureError

logger = logging.getLogger(__name__)


class ThreadPoolExecutor(ParslExecutor):
    """Run tasks on a pool of ``max_threads`` threads, with Parsl's parameters."""

    @validate_init
    def __init__(self, label: str = "threads", max_threads: Optional[int] = 2,
                 thread_name_prefix: str = "", storage_access: Optional[List[Staging]] = None,
                 working_dir: Optional[str] = None) -> None:
        super().__init__()
        if max_threads is not None and max_threads < 1:
            raise BadParameter("ThreadPoolExecutor", "max_threads", max_threads,
                               "an int >= 1 or None")
        self.label = label
        self.max_threads = max_threads
        self.thread_name_prefix = thread_name_prefix
        self.storage_access = storage_access
        self.working_dir = working_dir
        self.executor: Optional[cf.ThreadPoolExecutor] = None

    def start(self) -> None:
        self.executor = cf.ThreadPoolExecutor(
            max_workers=self.max_threads,
            thread_name_prefix=self.thread_name_prefix or f"parsl-{self.label}")

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if resource_specification:
            raise UnsupportedFeatureError(
                "parsl_resource_specification", f"ThreadPoolExecutor {self.label!r}",
                f"keys {sorted(resource_specification)}; use an executor that supports "
                "resource specifications, such as HighThroughputExecutor")
        executor = self.executor
        if executor is None:
            raise RuntimeError(f"ThreadPoolExecutor {self.label!r} has not been started")
        return executor.submit(func, *args, **kwargs)

    def shutdown(self, block: bool = False) -> None:
        """Stop accepting tasks and cancel queued ones; running ones finish on their own
        unless ``block`` asks to wait for them."""
        if self.executor is not None:
            logger.debug("Shutting down ThreadPoolExecutor %s", self.label)
            self.executor.shutdown(wait=block, cancel_futures=True)

    def monitor_resources(self) -> bool:
        return False
