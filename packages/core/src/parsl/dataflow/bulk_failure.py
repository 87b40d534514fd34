"""The DFK's handling of many task tries failed at once by their executor.

When an executor fails all its outstanding tasks for one reason (interchange lost,
liveness timeout, shutdown with tasks outstanding, Ctrl-C), it does so through
:func:`parsl.executors.base.fail_futures`. The DFK's callback on each executor future is
registered there (:func:`~parsl.executors.base.handle_failures_in_bulk`), so instead of
running it per future, ``fail_futures`` calls :func:`fail_records` with the failed tries
of up to 1,024 futures at a time (a thread executor's shutdown collects its cancelled
tries into the batch through that callback instead). :func:`fail_tries` handles them
together with the same outcome as the per-task path (``DataFlowKernel._try_failed``):
a try with retries left is relaunched (after the whole batch), any other task fails for
good; fail history, try history, memo table, task events, hooks, task states and
``task_state_counts`` are updated as for one task, then the app futures are failed
together (waiters wake, their callbacks run). What it does not do per task is what made
100,000 failures take seconds: an INFO line with its string formatting, a ``repr`` of an
exception that is a copy of the batch's reason, a ``time.time()`` call, a traceback
walk, a lock per future and per count, and garbage collections over every live task
(``fail_futures`` pauses the collector). Per-task log records are written only when
DEBUG is enabled; the executor logs the batch once, with the counts kept here.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import InvalidStateError
from typing import TYPE_CHECKING, Any, List, Tuple

from parsl.dataflow.leanfuture import LeanFuture, all_stripes_held
from parsl.dataflow.retries import try_cost
from parsl.dataflow.states import States
from parsl.dataflow.taskrecord import TaskRecord, TryRecord
from parsl.executors.base import FailureBatch, handle_failures_in_bulk

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel

logger = logging.getLogger(__name__)

#: Failed tasks are added to ``task_state_counts`` this many at a time: a lock per task
#: would cost more than the rest of its bookkeeping, while a reader of the counts sees
#: at most this many failed tasks missing for a moment (as it may miss one task that
#: ``DataFlowKernel._finalize`` is finishing).
_COUNT_EVERY = 256


def fail_records(batch: FailureBatch, items: List[Tuple[TaskRecord, BaseException]]) -> None:
    """The batch handler of the DFK's executor-future callback: fail the tries ``items``
    (task record, exception), each with its own task's DFK (almost always one for all)."""
    fail_tries(items[0][0].dfk, batch, items)


def fail_tries(dfk: DataFlowKernel, batch: FailureBatch,
               items: List[Tuple[TaskRecord, BaseException]]) -> None:
    """Handle failed tries ``items`` (task record, exception) of one batch together.

    One pass over the records (each is far from the last in memory, so every extra pass
    costs cache misses): the try's bookkeeping, the retry decision, and for a task with
    no retries left its final state; then its app future fails. Relaunches are deferred
    to the end of the batch.
    """
    now = time.time()
    # A copy of the reason (parsl.errors.exception_copier: same type, the very same args
    # tuple) has the reason's repr when its type keeps BaseException.__repr__ (type name
    # and args only), so that is computed once here.
    reason = batch.reason
    reason_type = type(reason)
    reason_args = reason.args
    reason_repr = repr(reason) if reason_type.__repr__ is BaseException.__repr__ else None
    hook_finished = dfk._hook_try_finished
    hook_state = dfk._hook_state
    retry_handler = dfk._retry_handler
    retries = dfk._retries
    may_retry = not dfk.cleanup_called
    events = dfk._events
    debug = logger.isEnabledFor(logging.DEBUG)
    final_lock = dfk._final_lock
    final_counts = dfk._final_counts
    forget = dfk.tasks.pop if dfk._garbage_collect else None
    failed = States.failed
    uncounted = 0
    retrying: List[TaskRecord] = []
    finishing: List[Tuple[Any, BaseException]] = []  # app future, its exception
    strangers: List[Tuple[TaskRecord, BaseException]] = []  # tasks of another DFK
    new_tuple = tuple.__new__
    try:
        for record, error in items:
            if record.dfk is not dfk:
                strangers.append((record, error))
                continue
            exception = error
            if type(exception) is reason_type and exception.args is reason_args:
                text = reason_repr or repr(exception)
            else:
                if exception.__traceback__ is not None:
                    # An exception raised elsewhere joined the batch (fail_futures' copies
                    # were never raised, and copies an executor raises to refuse a relaunch
                    # show no app code): keep its traceback as _try_failed does.
                    from parsl.dataflow.dflow import _keep_app_traceback  # dflow imports us
                    _keep_app_traceback(exception)
                text = repr(exception)
            record.fail_count += 1
            fail_history = record._fail_history
            if fail_history is None:
                record._fail_history = [text]
            else:
                fail_history.append(text)
            returned = record.try_time_returned
            if returned is None:
                returned = record.try_time_returned = now
            history = record.try_history
            # tuple.__new__ skips the namedtuple's Python-level __new__ (a call per task).
            try_record = new_tuple(TryRecord, (record.try_id, record.executor,
                                               record.try_time_launched or 0.0, returned,
                                               exception))
            if history is None:
                record.try_history = [try_record]
            else:
                history.append(try_record)
            if hook_finished is not None:
                try:
                    hook_finished(dfk=dfk, task_record=record, try_id=record.try_id,
                                  exception=exception)
                except Exception:
                    # One plugin's error must not leave the rest of the batch unfinished.
                    logger.exception("Task %s: a parsl_task_try_finished hook raised",
                                     record.id, extra={"task_id": record.id})
            cost, exception = try_cost(retry_handler, exception, record)
            record.fail_cost += cost
            app_fu: Any = record.app_fu
            if record.fail_cost <= retries and may_retry and not app_fu.done():
                retrying.append(record)
                continue
            # No retries left: as DataFlowKernel._fail, without its INFO line.
            if record.memoize and record.hashsum is not None:
                _memoize_exception(dfk, record, exception)
            if events is not None:
                events.add_at(now, "failed", record.id, try_id=record.try_id,
                              exception=type(exception).__name__)
            if debug:
                logger.debug("Task %s (app %s) failed after %s tries on %s: %s: %s", record.id,
                             record.func_name, record.try_id + 1, record.executor,
                             type(exception).__name__, exception,
                             extra={"task_id": record.id, "try_id": record.try_id})
            record.time_returned = now
            record.exec_fu = None  # as DataFlowKernel._finalize: nothing more to read from it
            if hook_state is None:
                record.status = failed
            else:
                old_state = record.status
                record.status = failed
                try:
                    hook_state(dfk=dfk, task_record=record, old_state=old_state,
                               new_state=failed)
                except Exception:
                    logger.exception("Task %s: a parsl_task_state_change hook raised",
                                     record.id, extra={"task_id": record.id})
            uncounted += 1
            if uncounted == _COUNT_EVERY:
                with final_lock:
                    final_counts[failed] += uncounted
                uncounted = 0
            if forget is not None:
                forget(record.id, None)
            finishing.append((app_fu, exception))
    finally:
        # Also when interrupted: the tasks handled so far are finished.
        if uncounted:
            with final_lock:
                final_counts[failed] += uncounted
        batch.failed += len(finishing)
        _fail_app_futures(finishing)
        if retrying:
            # After the batch's every failure, as when each was handled alone: a
            # relaunch an executor accepts must not be failed again by this batch.
            batch.defer_many(_retry, retrying)
    if strangers:
        fail_records(batch, strangers)


def _fail_app_futures(finishing: List[Tuple[Any, BaseException]]) -> None:
    """Fail each app future with its exception (skipping one the user cancelled
    meanwhile), then run their callbacks (the user's, and dependents' launches)."""
    to_run = []
    with all_stripes_held() as held:
        fail = LeanFuture._fail_while_held if held else LeanFuture._fail_keeping_callbacks
        for app_fu, exception in finishing:
            try:
                callbacks = fail(app_fu, exception)
            except InvalidStateError:  # cancelled by the user meanwhile
                continue
            if callbacks:
                to_run.append((app_fu, callbacks))
    for app_fu, callbacks in to_run:
        app_fu._run_callbacks(callbacks)


def _memoize_exception(dfk: DataFlowKernel, record: TaskRecord,
                       exception: BaseException) -> None:
    try:
        dfk.memoizer.update_memo_exception(record, exception)
    except Exception:
        logger.exception("Task %s: the memoizer could not record its exception",
                         record.id, extra={"task_id": record.id})


def _retry(batch: FailureBatch, retrying: List[TaskRecord]) -> None:
    """Relaunch tries with retries left; a relaunch that fails at once (its executor is
    in a bad state) joins the batch's next round."""
    debug = logger.isEnabledFor(logging.DEBUG)
    batch.retried += len(retrying)
    for record in retrying:
        dfk = record.dfk
        if dfk._events is not None:
            dfk._events.add("try_failed", record.id, try_id=record.try_id)
        if debug:
            logger.debug("Task %s (app %s) try %s failed on %s; retrying (cost so far %s "
                         "of %s)", record.id, record.func_name, record.try_id,
                         record.executor, record.fail_cost, dfk._retries,
                         extra={"task_id": record.id, "try_id": record.try_id})
        record.try_id += 1
        try:
            dfk._set_state(record, States.fail_retryable)
        except Exception:
            logger.exception("Task %s: a parsl_task_state_change hook raised", record.id,
                             extra={"task_id": record.id})
        dfk._launch_if_ready(record)


# The DFK's executor-future callback need not run per future in a bulk failure.
handle_failures_in_bulk(TaskRecord._on_exec_done, fail_records)
