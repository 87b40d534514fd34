"""Turning workers' events into rows, in the database writer (off the submitting process).

Workers name a task by its executor task id (HTEX's id); the rows need the DFK's task id
and try id, which the hub reports when a try is launched. Both streams reach the writer
in whatever order they happen: a worker's ``running`` often arrives before the DFK's
launch hook has run. Events of a try not known yet are parked under its executor id and
recorded, in their original order, the moment the try is reported.

Worker events (lists, see :mod:`parsl_monitoring.remote`): ``["running", htex_id,
dfk_id, epoch, hostname, block_id, worker_id]``, ``["ended", htex_id, dfk_id, epoch, ok]``,
``["resource", htex_id, dfk_id, [sample values]]``.
"""
from __future__ import annotations

from typing import Any, Dict, Hashable, List, Protocol, Tuple

from parsl_monitoring.fields import SAMPLE_FIELDS

_Key = Tuple[str, int]
_SAMPLE_SIZE = len(SAMPLE_FIELDS)


class RowSink(Protocol):
    """Where resolved events go: the writer's pending rows (see
    :class:`parsl_monitoring.writer.DatabaseWriter`). Rows are appended and merged in
    place, without a message per row: a no-op task brings three worker events, and
    building and dispatching a message for each cost more than the row itself."""

    #: ``(task_id, try_id, state name, epoch)`` per status row.
    status_rows: List[Tuple[Any, ...]]
    #: ``(task_id, try_id, [SAMPLE_FIELDS values])`` per resource row.
    sample_rows: List[Tuple[Any, ...]]

    def try_row(self, key: Hashable) -> Dict[str, Any]:
        """The merged try row of ``(task_id, try_id)``, created empty."""

    def count_lost(self, count: int, reason: str) -> None:
        """Count ``count`` messages lost for ``reason``."""


class WorkerEvents:
    """Resolves worker events to try rows, which go to ``sink``."""

    def __init__(self, sink: RowSink) -> None:
        self.sink = sink
        #: (executor label, executor task id) -> [task id, try id, try finished?]
        self.tries: Dict[_Key, List[Any]] = {}
        #: Events whose try has not been reported launched yet, in arrival order.
        self.parked: Dict[_Key, List[List[Any]]] = {}
        #: Tries the DFK saw finish whose worker has not sent ``ended`` yet.
        self.unended = 0

    def launched(self, label: str, executor_id: int, task_id: int, try_id: int) -> None:
        key = (label, executor_id)
        self.tries[key] = [task_id, try_id, False]
        for message in self.parked.pop(key, ()):
            self._record(key, message)

    def finished(self, label: str, executor_id: int) -> None:
        entry = self.tries.get((label, executor_id))
        if entry is not None and not entry[2]:
            entry[2] = True
            self.unended += 1

    def events(self, label: str, messages: List[List[Any]]) -> None:
        tries = self.tries
        record = self._record
        for message in messages:
            try:
                executor_id = message[1]
                if type(executor_id) is not int:
                    executor_id = int(executor_id)
            except (IndexError, TypeError, ValueError):
                self.sink.count_lost(1, "malformed worker event")
                continue
            key = (label, executor_id)
            if key in tries:
                record(key, message)
            else:
                self.parked.setdefault(key, []).append(message)

    def leftover(self) -> int:
        """Parked events (for tries never reported), forgotten by this call."""
        count = sum(len(m) for m in self.parked.values())
        self.parked.clear()
        return count

    def _record(self, key: _Key, message: List[Any]) -> None:
        sink = self.sink
        entry = self.tries[key]
        task_id, try_id = entry[0], entry[1]
        kind = message[0]
        try:
            if kind == "resource":
                values = message[3]
                if len(values) == _SAMPLE_SIZE:
                    sink.sample_rows.append((task_id, try_id, values))
                else:
                    sink.count_lost(1, "malformed resource sample")
            elif kind == "running":
                _, executor_id, _, epoch, hostname, block_id, worker_id = message
                sink.status_rows.append((task_id, try_id, "running", epoch))
                row = sink.try_row((task_id, try_id))
                row["task_try_time_running"] = epoch
                row["hostname"] = hostname
                row["block_id"] = block_id
                row["worker_id"] = worker_id
                row["executor_task_id"] = executor_id
            elif kind == "ended":
                sink.status_rows.append((task_id, try_id, "running_ended", message[3]))
                del self.tries[key]
                if entry[2]:
                    self.unended -= 1
            else:
                sink.count_lost(1, f"unknown worker event {kind!r}")
        except (ValueError, IndexError, TypeError):
            sink.count_lost(1, f"malformed worker event {kind!r}")
