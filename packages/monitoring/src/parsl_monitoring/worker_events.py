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

from typing import Any, Callable, Dict, List, Tuple

Emit = Callable[[Tuple[Any, ...]], None]
_Key = Tuple[str, int]


class WorkerEvents:
    """Resolves worker events to try rows; ``emit`` receives the writer's messages."""

    def __init__(self, emit: Emit, status: str, try_: str, sample: str, lost: str) -> None:
        self.emit = emit
        self.kinds = (status, try_, sample, lost)
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
        lost = self.kinds[3]
        for message in messages:
            try:
                key = (label, int(message[1]))
            except (IndexError, TypeError, ValueError):
                self.emit((lost, 1, "malformed worker event"))
                continue
            if key in self.tries:
                self._record(key, message)
            else:
                self.parked.setdefault(key, []).append(message)

    def leftover(self) -> int:
        """Parked events (for tries never reported), forgotten by this call."""
        count = sum(len(m) for m in self.parked.values())
        self.parked.clear()
        return count

    def _record(self, key: _Key, message: List[Any]) -> None:
        status, try_, sample, lost = self.kinds
        entry = self.tries[key]
        task_id, try_id = entry[0], entry[1]
        kind = message[0]
        try:
            if kind == "running":
                _, executor_id, _, epoch, hostname, block_id, worker_id = message
                self.emit((status, task_id, try_id, "running", epoch))
                self.emit((try_, task_id, try_id, {
                    "task_try_time_running": epoch, "hostname": hostname,
                    "block_id": block_id, "worker_id": worker_id,
                    "executor_task_id": executor_id}))
            elif kind == "ended":
                self.emit((status, task_id, try_id, "running_ended", message[3]))
                del self.tries[key]
                if entry[2]:
                    self.unended -= 1
            elif kind == "resource":
                self.emit((sample, task_id, try_id, message[3]))
            else:
                self.emit((lost, 1, f"unknown worker event {kind!r}"))
        except (ValueError, IndexError):
            self.emit((lost, 1, f"malformed worker event {kind!r}"))
