"""The DFK's periodic log writer when per-task events are on: it flushes the buffered
per-task events (see :class:`parsl.log_context.TaskEvents`) and records queue lengths
for ``parsl logs trace`` counter tracks.

It runs only when per-task events are being logged (level TASK_EVENTS or lower), so a
run without them starts no thread and pays nothing.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, List, Optional

from parsl.dataflow.states import States
from parsl.log_context import FLUSH_PERIOD, TASK_EVENTS, TaskEvents

logger = logging.getLogger(__name__)

#: Flushes between two queue-length samples.
_SAMPLE_EVERY = 3

#: The task state (Parsl's States names) each DFK event puts a task in.
_STATE_OF_EVENT = {"submitted": "pending", "launched": "launched", "completed": "exec_done",
                   "memo_hit": "memo_done", "failed": "failed", "dep_failed": "dep_fail",
                   "try_failed": "fail_retryable"}


def log_state_changes(run_id: str) -> Callable[[List[Dict[str, Any]]], None]:
    """A TaskEvents ``on_flush`` callback: one record per task state reached in the batch.

    Parsl logs each state change of each task as its own INFO record carrying
    ``parsl.task_state``; that costs a record per change. Here each flushed batch gives
    one record per state, naming the tasks, with Parsl's ``parsl.dfk`` and
    ``parsl.task_state`` attributes, so readers of those attributes and of the state
    names in the text keep working.
    """
    def summarize(entries: List[Dict[str, Any]]) -> None:
        by_state: Dict[str, List[Any]] = {}
        for entry in entries:
            event = entry["event"]
            state = _STATE_OF_EVENT.get(event)
            if state is None:
                continue
            if event == "launched" and "started" in entry:
                # No submitted event: a task without dependencies is launched at once.
                by_state.setdefault("pending", []).append(entry["task_id"])
            by_state.setdefault(state, []).append(entry["task_id"])
        for state, tasks in by_state.items():
            logger.log(TASK_EVENTS, "%d tasks changed state to %s: %s", len(tasks), state,
                       _ranges(tasks), extra={"parsl.dfk": run_id, "parsl.task_state": state})
    return summarize


def _ranges(ids: List[Any]) -> str:
    """``1-4,7,9-10`` for runs of consecutive integer ids (others as they are)."""
    parts: List[str] = []
    start: Optional[int] = None
    prev: Optional[int] = None
    for tid in ids:
        if isinstance(tid, int) and prev is not None and tid == prev + 1:
            prev = tid
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = None
        if isinstance(tid, int):
            start = prev = tid
        else:
            parts.append(str(tid))
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


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
