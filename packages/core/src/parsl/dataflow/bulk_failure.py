"""The DFK's handling of many task tries failed at once by their executor.

When an executor fails all its outstanding tasks for one reason (interchange lost,
liveness timeout, shutdown with tasks outstanding, Ctrl-C), it does so through
:func:`parsl.executors.base.fail_futures`, which collects the DFK's per-try callbacks into
one :class:`~parsl.executors.base.FailureBatch`. :func:`fail_tries` then handles them
together with the same outcome as the per-task path (``DataFlowKernel._try_failed``):
a try with retries left is relaunched, any other task fails for good; fail history, try
history, memo table, task events, hooks, task states and ``task_state_counts`` are
updated as for one task. What it does not do per task is what made 100,000 failures
take seconds: an INFO line with its string formatting, a ``repr`` of an exception that
is a copy of the batch's reason, a ``time.time()`` call and a lock acquisition.
Per-task log records are written only when DEBUG is enabled; the executor logs the
batch once, with the counts kept here.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import InvalidStateError
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from parsl.dataflow.states import States
from parsl.dataflow.taskrecord import TaskRecord, TryRecord
from parsl.executors.base import FailureBatch

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel

logger = logging.getLogger(__name__)


def fail_tries(dfk: DataFlowKernel, batch: FailureBatch,
               items: List[Tuple[TaskRecord, BaseException]]) -> None:
    """Handle failed tries ``items`` (task record, exception) of one batch together."""
    now = time.time()
    # A copy of the reason (parsl.errors.exception_copier: same type, the very same args
    # tuple) has the reason's repr when its type keeps BaseException.__repr__ (type name
    # and args only), so that is computed once here.
    reason = batch.reason
    reason_type = type(reason)
    reason_args = reason.args
    reason_repr = repr(reason) if reason_type.__repr__ is BaseException.__repr__ else None
    hook_finished = dfk._hook_try_finished
    retry_handler = dfk._retry_handler
    retries = dfk._retries
    may_retry = not dfk.cleanup_called
    failing: List[Tuple[TaskRecord, BaseException]] = []
    retrying: List[TaskRecord] = []
    new_tuple = tuple.__new__
    for record, error in items:
        exception = error
        copied = type(exception) is reason_type and exception.args is reason_args
        if exception.__traceback__ is not None and not copied:
            # An exception raised elsewhere joined the batch (fail_futures' copies were
            # never raised, and copies an executor raises to refuse a relaunch show no
            # app code): keep its traceback as _try_failed does.
            from parsl.dataflow.dflow import _keep_app_traceback  # dflow imports this module
            _keep_app_traceback(exception)
        record.fail_count += 1
        text = reason_repr if copied and reason_repr is not None else repr(exception)
        fail_history = record._fail_history
        if fail_history is None:
            record._fail_history = [text]
        else:
            fail_history.append(text)
        history = record.try_history
        if history is None:
            history = record.try_history = []
        # tuple.__new__ skips the namedtuple's Python-level __new__ (a call per task).
        history.append(new_tuple(TryRecord, (record.try_id, record.executor,
                                             record.try_time_launched or 0.0,
                                             record.try_time_returned or now, exception)))
        if hook_finished is not None:
            hook_finished(dfk=dfk, task_record=record, try_id=record.try_id,
                          exception=exception)
        cost = 1.0
        if retry_handler is not None:
            try:
                cost = float(retry_handler(exception, record))  # type: ignore[arg-type]
            except Exception as handler_error:
                logger.exception("Task %s: retry_handler raised; not retrying", record.id,
                                 extra={"task_id": record.id})
                handler_error.__cause__ = exception
                exception = handler_error
                cost = float("inf")
        record.fail_cost += cost
        app_fu = record.app_fu
        assert app_fu is not None
        if record.fail_cost <= retries and may_retry and not app_fu.done():
            retrying.append(record)
        else:
            if record.memoize and record.hashsum is not None:
                _memoize_exception(dfk, record, exception)
            failing.append((record, exception))
    if failing:
        _fail_for_good(dfk, batch, failing, now)
    if retrying:
        _retry(dfk, batch, retrying)


def _memoize_exception(dfk: DataFlowKernel, record: TaskRecord,
                       exception: BaseException) -> None:
    try:
        dfk.memoizer.update_memo_exception(record, exception)
    except Exception:
        logger.exception("Task %s: the memoizer could not record its exception",
                         record.id, extra={"task_id": record.id})


def _fail_for_good(dfk: DataFlowKernel, batch: FailureBatch,
                   failing: List[Tuple[TaskRecord, BaseException]], now: float) -> None:
    """Record the events and final states, then fail the app futures."""
    events = dfk._events
    if events is not None:
        for record, exception in failing:
            events.add_at(now, "failed", record.id, try_id=record.try_id,
                          exception=type(exception).__name__)
    if logger.isEnabledFor(logging.DEBUG):
        for record, exception in failing:
            logger.debug("Task %s (app %s) failed after %s tries on %s: %s: %s", record.id,
                         record.func_name, record.try_id + 1, record.executor,
                         type(exception).__name__, exception,
                         extra={"task_id": record.id, "try_id": record.try_id})
    hook_state = dfk._hook_state
    old_states: Dict[int, States] = {}
    failed = States.failed
    with dfk._final_lock:
        for record, _ in failing:
            if hook_state is not None:
                old_states[record.id] = record.status
            record.time_returned = now
            record.status = failed
        dfk._final_counts[failed] += len(failing)
    if hook_state is not None:
        for record, _ in failing:
            hook_state(dfk=dfk, task_record=record, old_state=old_states[record.id],
                       new_state=failed)
    batch.failed += len(failing)
    forget = dfk.tasks.pop if dfk._garbage_collect else None
    for record, exception in failing:
        if forget is not None:
            forget(record.id, None)
        app_fu: Any = record.app_fu
        try:
            app_fu.set_exception(exception)
        except InvalidStateError:  # cancelled by the user meanwhile
            continue


def _retry(dfk: DataFlowKernel, batch: FailureBatch, retrying: List[TaskRecord]) -> None:
    """Relaunch tries with retries left; a relaunch that fails at once (its executor is
    in a bad state) joins the batch's next round."""
    events = dfk._events
    debug = logger.isEnabledFor(logging.DEBUG)
    batch.retried += len(retrying)
    for record in retrying:
        if events is not None:
            events.add("try_failed", record.id, try_id=record.try_id)
        if debug:
            logger.debug("Task %s (app %s) try %s failed on %s; retrying (cost so far %s "
                         "of %s)", record.id, record.func_name, record.try_id,
                         record.executor, record.fail_cost, dfk._retries,
                         extra={"task_id": record.id, "try_id": record.try_id})
        record.try_id += 1
        dfk._set_state(record, States.fail_retryable)
        dfk._launch_if_ready(record)
