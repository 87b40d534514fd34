"""The DFK's periodic log writer when per-task events are on: it flushes the buffered
per-task events (see :class:`parsl.log_context.TaskEvents`) and records queue lengths
for ``parsl logs trace`` counter tracks.

It runs only when per-task events are being logged (level TASK_EVENTS or lower), so a
run without them starts no thread and pays nothing.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Dict

from parsl.dataflow.states import States
from parsl.log_context import FLUSH_PERIOD, TASK_EVENTS, TaskEvents

logger = logging.getLogger(__name__)

#: Flushes between two queue-length samples.
_SAMPLE_EVERY = 3


class QueueMetrics:
    """Flush events every FLUSH_PERIOD s; log how many tasks wait for dependencies and
    how many are with executors every few flushes."""

    def __init__(self, counts: Callable[[], Dict[States, int]], events: TaskEvents,
                 period: float = FLUSH_PERIOD) -> None:
        self._counts = counts
        self._events = events
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parsl-task-events",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is buffered and a last sample, and stop the thread."""
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
        ticks = 0
        while not self._stop.wait(self._period):
            ticks += 1
            try:
                self._events.flush()
                if ticks % _SAMPLE_EVERY == 0:
                    self.sample()
            except Exception:
                logger.exception("writing task events or queue metrics failed")
        self._events.flush()
        self.sample()
