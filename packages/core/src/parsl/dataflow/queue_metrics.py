"""Periodic queue-length records of the DFK, for ``parsl logs trace`` counter tracks.

Runs only when per-task events are being logged (level TASK_EVENTS or lower), so a run
without them starts no thread and pays nothing.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Dict

from parsl.dataflow.states import States
from parsl.log_context import TASK_EVENTS

logger = logging.getLogger(__name__)

#: Seconds between two samples.
PERIOD = 0.5


class QueueMetrics:
    """Log how many tasks wait for dependencies and how many are with executors."""

    def __init__(self, counts: Callable[[], Dict[States, int]], period: float = PERIOD) -> None:
        self._counts = counts
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parsl-queue-metrics",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self) -> None:
        counts = self._counts()
        pending = counts[States.pending] + counts[States.fail_retryable]
        launched = counts[States.launched] + counts[States.running]
        logger.log(TASK_EVENTS, "dfk_pending=%d", pending,
                   extra={"metric": "dfk_pending", "value": pending})
        logger.log(TASK_EVENTS, "dfk_launched=%d", launched,
                   extra={"metric": "dfk_launched", "value": launched})

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self.sample()
            except Exception:
                logger.exception("queue metrics sample failed")
        self.sample()
