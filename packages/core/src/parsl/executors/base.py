"""The executor interface every execution backend implements.

The dataflow kernel (DFK) drives an executor through four calls: it sets ``run_dir`` and
``run_id``, calls ``start()`` once, calls ``submit()`` once per task try, and calls
``shutdown()`` once at cleanup. ``submit`` must return quickly with a
``concurrent.futures.Future`` that the executor completes later with the task's result, or
with an exception that says why the task could not run.
"""
from __future__ import annotations

import gc
import logging
import os
from abc import ABCMeta, abstractmethod
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import islice
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
)

from typing_extensions import Self

from parsl.dataflow.leanfuture import LeanFuture, all_stripes_held
from parsl.errors import BadParameter, exception_copier

if TYPE_CHECKING:
    from parsl.logconfigs.base import LogConfig

logger = logging.getLogger(__name__)


class TaskContext(NamedTuple):
    """Who is being submitted: lets executors put DFK ids into their logs and errors."""

    task_id: int
    try_id: int
    app_name: str


#: Set by the DFK around each ``executor.submit`` call (None outside one). Executors that
#: log per task, or name the task in serialization errors, read it with
#: ``submitting_task.get()``.
submitting_task: ContextVar[Optional[TaskContext]] = ContextVar("parsl_submitting_task",
                                                                default=None)

def check_label(owner: str, label: str) -> None:
    """Raise BadParameter for a label that cannot name the executor's folder.

    A label becomes a folder (``<run_dir>/<label>``) and part of block job names and of
    launch commands. Spaces and shell-special characters are fine (everything is quoted;
    job names are sanitized), but a path separator, a control character such as a newline,
    ``.``, ``..`` or an empty label would put files elsewhere or break a job script.
    """
    problem = None
    if not label or label in (".", ".."):
        problem = "it is empty, '.' or '..'"
    elif "/" in label or "\\" in label:
        problem = "it contains a path separator"
    elif any(ord(c) < 32 or ord(c) == 127 for c in label):
        problem = "it contains a control character"
    if problem is not None:
        raise BadParameter(owner, "label", label,
                           f"a name usable as a folder name ({problem})")


class FailureBatch:
    """The failures of one :func:`fail_futures` call, gathered so their owner handles
    them together.

    While :func:`fail_futures` fails the futures, a done-callback that can handle many
    failures at once (the DFK's) hands its work to :meth:`defer` instead of doing it;
    :func:`fail_futures` then calls each handler once with all its items. Handlers count
    what they did in ``failed``, ``retried`` and ``dependents_failed`` for the one log
    line of the batch.
    """

    __slots__ = ("_deferred", "dependents_failed", "failed", "reason", "retried")

    def __init__(self, reason: BaseException) -> None:
        self.reason = reason
        self.failed = 0
        self.retried = 0
        self.dependents_failed = 0
        self._deferred: Dict[Callable[[FailureBatch, List[Any]], None], List[Any]] = {}

    def defer(self, handler: Callable[[FailureBatch, List[Any]], None], item: Any) -> None:
        """Have ``handler(batch, items)`` called with ``item`` among its items."""
        items = self._deferred.get(handler)
        if items is None:
            self._deferred[handler] = [item]
        else:
            items.append(item)

    def defer_many(self, handler: Callable[[FailureBatch, List[Any]], None],
                   items: List[Any]) -> None:
        """Have ``handler(batch, items)`` called with every item of ``items`` among its
        items (the list may be used as is)."""
        known = self._deferred.get(handler)
        if known is None:
            self._deferred[handler] = items
        else:
            known.extend(items)

    def flush(self) -> None:
        """Run the deferred handlers, and again for anything they defer (a retry that
        fails at once), until nothing is left."""
        while self._deferred:
            deferred, self._deferred = self._deferred, {}
            for handler, items in deferred.items():
                try:
                    handler(self, items)
                except Exception:
                    logger.exception("handling %d failed tasks at once raised", len(items))

    def summary(self) -> str:
        """What the handlers did, for the batch's log line ("" if nothing was deferred)."""
        if not (self.failed or self.retried or self.dependents_failed):
            return ""
        return (f" ({self.failed} tasks failed, {self.retried} retried, "
                f"{self.dependents_failed} dependent tasks failed)")


#: The batch :func:`fail_futures` is filling, in the thread running it (else None).
failing_in_bulk: ContextVar[Optional[FailureBatch]] = ContextVar("parsl_failing_in_bulk",
                                                                 default=None)


@contextmanager
def failing_together(reason: BaseException) -> Iterator[FailureBatch]:
    """Within the block, futures failed or cancelled in this thread are handled by their
    owner (the DFK) as one :class:`FailureBatch`, at the end of the block.

    The cyclic garbage collector is paused meanwhile: every object made stays referenced
    by a future, so collections would find nothing, yet with 100,000 live tasks one full
    collection alone costs about a second. A collector the program disabled stays so.
    """
    batch = FailureBatch(reason)
    token = failing_in_bulk.set(batch)
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        yield batch
    finally:
        try:
            batch.flush()
        finally:
            failing_in_bulk.reset(token)
            if collecting:
                _age_young_objects()
                gc.enable()


def _age_young_objects() -> None:
    """Move every object the young generations hold into the oldest one, unexamined.

    A batch leaves hundreds of thousands of new objects (each failed task's exception and
    histories), all referenced by tasks the user still holds; the first young collection
    after the pause would walk them all (about 0.1 s for 100,000 tasks) to find nothing.
    ``gc.freeze`` then ``gc.unfreeze`` moves them to the oldest generation in constant
    time, where a full collection, which the collector starts only as that generation
    grows, examines them with everything else. Skipped when the program froze objects
    itself (unfreezing would release them into collection).
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


#: How many failed futures :func:`fail_futures` hands to a batch handler at a time.
_HANDLE_EVERY = 1024

#: A batch handler: called once per batch with (owner, exception) items.
BulkHandler = Callable[[FailureBatch, List[Any]], None]

#: Done-callback functions whose owner handles failures in bulk (see
#: :func:`handle_failures_in_bulk`), by the function a bound-method callback wraps (or,
#: for a callable object, its class's ``__call__``).
_bulk_handlers: Dict[Callable[..., Any], BulkHandler] = {}


def handle_failures_in_bulk(callback: Callable[..., Any], handler: BulkHandler) -> None:
    """Declare that a done-callback ``owner.callback`` need not run when
    :func:`fail_futures` fails its future: ``handler(batch, items)`` is called once at
    the end of the batch instead, ``items`` holding ``(owner, exception)`` for every such
    future (the DFK registers its executor-future callback here).

    Running 100,000 callbacks one by one, each to learn what the batch already knows
    (the future failed, with which exception), costs more than the DFK's handling of the
    failures itself. Waiters on those futures still wake and other callbacks still run.
    """
    _bulk_handlers[callback] = handler


def fail_futures(label: str, futures: Iterable[Future[Any]], exception: BaseException) -> int:
    """Fail every future of ``futures`` not yet done, each with its own copy of
    ``exception``; log the reason and the count once; return the count.

    Used when many tasks fail for one reason (an interchange lost, a liveness timeout, a
    shutdown): a shared exception object would gain frames with every reader, and the
    DFK's per-task failure path would dominate the time taken (100,000 tasks must fail
    well within a second), so the futures' DFK callbacks are handled as one batch
    (:func:`failing_together`, :func:`handle_failures_in_bulk`). ``futures`` may be a
    generator, but one that never waits for another thread: it runs while every
    LeanFuture's lock is held.
    """
    copy = exception_copier(exception)
    count = 0
    iterator = iter(futures)
    with failing_together(exception) as batch:
        while True:
            # A few hundred at a time: each future's objects are handled while they are
            # still in the CPU's caches.
            chunk = list(islice(iterator, _HANDLE_EVERY))
            if not chunk:
                break
            count += _fail_chunk(chunk, copy, batch)
    if count:
        logger.info("Executor %s failed %d outstanding tasks%s: %s: %s", label, count,
                    batch.summary(), type(exception).__name__, exception)
    return count


def _fail_chunk(futures: List[Future[Any]], copy: Callable[[], BaseException],
                batch: FailureBatch) -> int:
    """Fail ``futures`` with copies from ``copy``; run their callbacks, those of an owner
    registered with :func:`handle_failures_in_bulk` as one call to its handler."""
    count = 0
    handlers = _bulk_handlers
    gathered: Dict[BulkHandler, List[Any]] = {}
    last_function: Any = gathered  # a sentinel: no callback function is this dict
    last_items: List[Any] = []
    to_run: List[Any] = []  # callbacks no handler takes, with their future
    others: List[Future[Any]] = []
    try:
        with all_stripes_held() as held:
            fail = (LeanFuture._fail_while_held if held
                    else LeanFuture._fail_keeping_callbacks)
            for future in futures:
                if not isinstance(future, LeanFuture):
                    others.append(future)
                    continue
                error = copy()
                try:
                    callbacks = fail(future, error)
                except InvalidStateError:
                    continue
                count += 1
                if callbacks is None:
                    continue
                for callback in callbacks:
                    # A bound method, or a callable object (the DFK's TaskRecord is its
                    # executor future's callback): either way, keyed by the function run.
                    function = getattr(callback, "__func__", None)
                    if function is None:
                        function = vars(type(callback)).get("__call__")
                        owner = callback
                    else:
                        owner = callback.__self__  # type: ignore[attr-defined]
                    if function is not last_function:
                        handler = handlers.get(function)
                        if handler is None:
                            to_run.append((callback, future))
                            continue
                        last_function = function
                        last_items = gathered.setdefault(handler, [])
                    last_items.append((owner, error))
        for future in others:
            try:
                future.set_exception(copy())
            except InvalidStateError:
                continue
            count += 1
    finally:
        # Even when interrupted (Ctrl-C): a future failed here has no callbacks left, so
        # its owner must hear of it now or never.
        for callback, future in to_run:
            _run_callback(callback, future)
        for handler, items in gathered.items():
            _run_handler(handler, batch, items)
    return count


def _run_handler(handler: BulkHandler, batch: FailureBatch, items: List[Any]) -> None:
    try:
        handler(batch, items)
    except Exception:
        logger.exception("handling %d failed tasks at once raised", len(items))


def _run_callback(callback: Callable[[Any], Any], future: Future[Any]) -> None:
    try:
        callback(future)
    except Exception:
        logger.exception("exception calling callback for %r", future)


class ParslExecutor(metaclass=ABCMeta):
    """Abstract base of all executors.

    Attributes every executor has:

    ``label``
        unique name within a config; apps are pinned to executors by it.
    ``run_dir``
        the run's directory (``runinfo/NNN``), set by the DFK before ``start()``.
    ``run_id``
        the run's unique id, set by the DFK before ``start()``.
    ``log_config``
        the run's :class:`~parsl.logconfigs.LogConfig` when the Config names one (else
        None: the executor keeps its own logging), set by the DFK before ``start()``; an
        executor with processes of its own initializes it in each of them.
    """

    label: str = "undefined"
    log_config: Optional[LogConfig] = None
    radio_mode: str = "udp"

    def __init__(self, *, run_dir: str = ".", run_id: Optional[str] = None) -> None:
        self._run_dir = run_dir
        self.run_id = run_id

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    @abstractmethod
    def start(self) -> None:
        """Start the executor; called once by the DFK after ``run_dir`` is set."""

    @abstractmethod
    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``func(*args, **kwargs)`` somewhere and return a future for its result.

        ``resource_specification`` is the app's ``parsl_resource_specification`` (an empty
        dict when the app gave none); an executor that cannot honour a non-empty one must
        raise immediately with a message naming the unsupported keys.
        """

    def shutdown(self, block: bool = False) -> None:
        """Stop the executor and release every resource it holds. Must not hang."""

    def monitor_resources(self) -> bool:
        """Whether per-task resource monitoring should be attached to this executor."""
        return True

    @property
    def run_dir(self) -> str:
        return self._run_dir

    @run_dir.setter
    def run_dir(self, value: str) -> None:
        self._run_dir = value

    @property
    def executor_dir(self) -> str:
        """``run_dir/<label>``: the folder this executor's own logs belong in."""
        return os.path.join(self._run_dir, self.label)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} label={self.label!r}>"
