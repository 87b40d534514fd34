"""One convention for tying log records to tasks, tries, executors, blocks and workers.

Every Parsl component (the DFK, executors, the HTEX interchange, managers and workers,
providers, third-party plugins) attaches the ids it knows to its log records as
``extra`` fields with the names in :data:`CONTEXT_KEYS`, for example::

    logger.log(TASK_EVENTS, "Task queued", extra={"task_id": 7, "executor": "htex",
                                                   "executor_task_id": 3, "event": "ix_received"})

Text formatters (:class:`parsl.log_utils.ParslFormatter`) append them to the line as
``key=value``; :class:`parsl.logconfigs.JSONLogging` writes them as JSON fields. Ids that
are the same for every record of a process (the run id in the DFK's process, the block,
manager and worker ids in a worker) are set once with :func:`set_process_context` and
added to every record by the same formatters, so the hot path passes only per-task ids.

Per-task events (a task was submitted, reached the interchange, started on a worker...)
are logged at level :data:`TASK_EVENTS` (15, between DEBUG and INFO) with an ``event``
field naming the step. Setting a log configuration's level to ``TASK_EVENTS`` records them
without the rest of the DEBUG output. A component decides once, at start, whether to emit
them (``logger.isEnabledFor(TASK_EVENTS)``), so a run without them pays nothing per task.

Periodic metric records (queue lengths) carry ``metric`` (a name) and ``value`` fields and
are logged at the same level. ``parsl logs`` reads all of these back.

Hot paths that meet thousands of tasks a second (the DFK, the HTEX interchange and
managers) collect their per-task events in a :class:`TaskEvents` buffer and write them
as one record every fraction of a second: a ``task_events`` field holds one object per
event with its ``time``, ``event`` and ids. A log record costs tens of microseconds;
appending to the buffer costs well under one, which is what keeps per-task events
affordable. ``parsl logs`` expands these records back into one event per task.
"""
from __future__ import annotations

import collections
import contextlib
import json
import logging
import threading
import time
from contextvars import ContextVar
from threading import get_ident
from types import MappingProxyType
from typing import Any, Callable, Deque, Dict, Iterator, List, Mapping, Optional, Tuple

#: Level of per-task event and metric records: above DEBUG, below INFO.
TASK_EVENTS = 15
logging.addLevelName(TASK_EVENTS, "TASK")

#: The context keys, in the order text formatters append them.
CONTEXT_KEYS: Tuple[str, ...] = (
    "run_id",            # the DFK's run id (a UUID string)
    "task_id",           # the DFK's task id (an int)
    "try_id",            # the try of that task (0 for the first)
    "app",               # the app's function name
    "executor",          # the executor's label
    "executor_task_id",  # the executor's own id for one try of a task
    "block_id",          # the provider block
    "job_id",            # the provider's job id for that block
    "manager_id",        # an HTEX manager (process_worker_pool) id
    "worker_id",         # a worker's rank within its manager
    "event",             # the name of a per-task event (see EVENTS)
    "started",           # on an event that closes a span: when the span began (epoch s)
    "metric",            # the name of a periodic metric record
    "value",             # the value of that metric
)

#: Per-task events, in the order a task normally meets them, with the process that
#: emits each. ``parsl logs latency`` measures the time between consecutive ones. Those
#: marked (DEBUG) are logged only at DEBUG: they time single hops, and at TASK_EVENTS
#: level they would cost throughput for little insight. Some events are not records of
#: their own, to halve the records per task (see SPAN_STARTS).
EVENTS: Mapping[str, str] = {
    "submitted": "dfk: the app was called",
    "deps_resolved": "dfk: every dependency finished",
    "memo_hit": "dfk: the result came from the memo table",
    "dep_failed": "dfk: a dependency failed; the task will not run",
    "launched": "dfk: the try was handed to its executor",
    "ix_received": "interchange: the task arrived from the executor",
    "ix_dispatched": "interchange: the task was sent to a manager",
    "cctools_submitted": "TaskVine/Work Queue manager process: handed to cctools",
    "mgr_received": "manager: the task arrived from the interchange",
    "mgr_to_worker": "manager: the task was written to a worker (DEBUG)",
    "worker_start": "worker: the task started running",
    "worker_end": "worker: the task finished running",
    "mgr_result": "manager: the result was read from the worker (DEBUG)",
    "ix_result": "interchange: the result arrived from the manager (DEBUG)",
    "cctools_done": "TaskVine/Work Queue manager process: cctools returned the task",
    "result_received": "executor: the result arrived in the submitting process (DEBUG)",
    "try_failed": "dfk: the try failed and the task will be retried",
    "completed": "dfk: the task's future completed with a result",
    "failed": "dfk: the task's future completed with an exception",
}

#: Events whose record, when it has ``started``, also stands for an earlier event at that
#: time: a worker logs one ``worker_end`` record after its result is on its way (so
#: logging stays off the task's critical path); the DFK logs no ``submitted`` record for
#: a task without dependencies, whose ``launched`` (or ``memo_hit``) record follows
#: within microseconds. Readers (parsl.logview) put the earlier event back.
SPAN_STARTS: Mapping[str, str] = {"worker_end": "worker_start", "launched": "submitted",
                                  "memo_hit": "submitted"}

_KEY_SET = frozenset(CONTEXT_KEYS)
_process_context: Dict[str, Any] = {}


def set_process_context(**ids: Any) -> None:
    """Set ids that every record of this process carries (``None`` removes one).

    Unknown key names raise ValueError, so a typo cannot silently start a second
    convention.
    """
    for key, value in ids.items():
        if key not in CONTEXT_KEYS:
            raise ValueError(f"set_process_context: unknown context key {key!r}; "
                             f"expected one of {', '.join(CONTEXT_KEYS)}")
        if value is None:
            _process_context.pop(key, None)
        else:
            _process_context[key] = value


def process_context() -> Mapping[str, Any]:
    """The ids set by :func:`set_process_context` (a live, read-only view)."""
    return _process_context


_NO_IDS: Mapping[str, Any] = MappingProxyType({})
_ambient: ContextVar[Mapping[str, Any]] = ContextVar("parsl_log_ids", default=_NO_IDS)


@contextlib.contextmanager
def ids(**context: Any) -> Iterator[None]:
    """Attach ids to every record logged in this block (this thread or task only).

    For code that calls into components that cannot be given the ids, such as an
    executor around ``provider.submit``: the provider's records then carry the
    executor's label and the block id without any change to the provider.
    """
    unknown = set(context) - _KEY_SET
    if unknown:
        raise ValueError(f"ids: unknown context keys {sorted(unknown)}; expected some of "
                         f"{', '.join(CONTEXT_KEYS)}")
    token = _ambient.set({**_ambient.get(), **context})
    try:
        yield
    finally:
        _ambient.reset(token)


def ambient_ids() -> Mapping[str, Any]:
    """The ids set by enclosing :func:`ids` blocks."""
    return _ambient.get()


def record_context(record: logging.LogRecord) -> Dict[str, Any]:
    """The context of ``record``: this process's ids, those of enclosing :func:`ids`
    blocks, and the record's own, each overriding the one before."""
    found = dict(_process_context)
    ambient = _ambient.get()
    if ambient:
        found.update(ambient)
    fields = record.__dict__
    for key in fields.keys() & _KEY_SET:
        found[key] = fields[key]
    return found


def format_context(context: Mapping[str, Any]) -> str:
    """``key=value`` pairs in :data:`CONTEXT_KEYS` order, separated by spaces."""
    return " ".join(f"{key}={context[key]}" for key in CONTEXT_KEYS if key in context)


class TaskEvents:
    """A buffer of per-task events written as one ``task_events`` record per flush.

    ``add`` is safe from any thread (a deque append); ``flush`` is called by the owner
    periodically (every :data:`FLUSH_PERIOD` seconds or so) and at shutdown. Each entry
    is ``{"time": epoch seconds, "event": name, "task_id": id, "thread": name of the
    thread that met the event, **ids}``.
    """

    __slots__ = ("_flushing", "_logger", "_on_flush", "_queue")

    def __init__(self, logger: logging.Logger,
                 on_flush: Optional[Callable[[List[Dict[str, Any]]], None]] = None) -> None:
        self._logger = logger
        #: Called with each flushed batch after it is written (the DFK summarizes the
        #: batch's state changes with it).
        self._on_flush = on_flush
        #: Held while a flush moves events from the queue to the log, so a flush that
        #: must finish before the process exits (a signal handler) waits for one in
        #: progress in another thread instead of dropping the events it holds.
        self._flushing = threading.RLock()
        self._queue: Deque[Tuple[float, str, Any, Dict[str, Any], int]] = collections.deque()

    def add(self, event: str, task_id: Any, **ids: Any) -> None:
        """Record that ``task_id`` met ``event`` now (in this thread)."""
        self._queue.append((time.time(), event, task_id, ids, get_ident()))

    def add_at(self, when: float, event: str, task_id: Any, **ids: Any) -> None:
        """Record that ``task_id`` met ``event`` at ``when`` (epoch seconds)."""
        self._queue.append((when, event, task_id, ids, get_ident()))

    def __len__(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Write the buffered events, if any, as one record."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        queue = self._queue
        entries: List[Dict[str, Any]] = []
        names = {t.ident: t.name for t in threading.enumerate()}
        while queue:
            try:
                when, event, task_id, ids, thread = queue.popleft()
            except IndexError:  # emptied by a concurrent flush
                break
            entry = {"time": when, "event": event, "task_id": task_id,
                     "thread": names.get(thread, thread)}
            entry.update(ids)
            entries.append(entry)
        if entries:
            self._logger.log(TASK_EVENTS, "%d task events", len(entries),
                             extra={"task_events": entries})
            if self._on_flush is not None:
                self._on_flush(entries)


#: Seconds between flushes of a TaskEvents buffer.
FLUSH_PERIOD = 0.2


def format_task_events(entries: Any) -> str:
    """Compact JSON (no spaces outside strings) for text logs' ``task_events=`` field."""
    return json.dumps(entries, separators=(",", ":"), default=str)
