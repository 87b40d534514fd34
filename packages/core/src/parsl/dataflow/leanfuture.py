"""A concurrent.futures.Future that allocates its synchronisation only when needed.

``concurrent.futures.Future`` builds a Condition (an RLock, a deque and several bound
methods, about 1 KB) for every future. A workflow with 100,000 pending tasks has 100,000
futures of which almost none are ever waited on individually, so here the state is guarded
by one of a fixed set of striped locks and the Condition is built on first wait. The class
keeps the private attributes ``concurrent.futures.wait``/``as_completed`` use (``_condition``,
``_state``, ``_waiters``), so those functions and ``isinstance(f, Future)`` keep working.

Executors may return LeanFutures from ``submit`` too: the DFK attaches one callback to
each, so a cheaper future is a direct saving per task.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import CancelledError, Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeoutError
from concurrent.futures._base import (
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional

logger = logging.getLogger(__name__)

_STRIPE_COUNT = 64
_STRIPES = tuple(threading.RLock() for _ in range(_STRIPE_COUNT))
_DONE_STATES = frozenset((CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED))
#: The states in which a future is done (for callers reading ``_state`` directly).
DONE_STATES = _DONE_STATES
_CANCELLED_STATES = frozenset((CANCELLED, CANCELLED_AND_NOTIFIED))


@contextmanager
def all_stripes_held() -> Iterator[bool]:
    """Hold every stripe lock for the block if none is held by another thread now, so
    that many futures can be failed with :meth:`LeanFuture._fail_while_held` without a
    lock operation each (yields True); else hold none (yields False).

    Never waits for a lock: ``concurrent.futures.wait`` in another thread takes several
    stripes in an order of its own, so waiting here could deadlock. The block must run
    no code that could wait for another thread (no callbacks, no hooks): every other
    thread touching a LeanFuture waits for it.
    """
    taken = 0
    try:
        for lock in _STRIPES:
            if not lock.acquire(blocking=False):
                break
            taken += 1
        if taken < _STRIPE_COUNT:
            for lock in _STRIPES[:taken]:
                lock.release()
            taken = 0
            yield False
        else:
            yield True
    finally:
        for lock in _STRIPES[:taken]:
            lock.release()


class LeanFuture(Future):  # type: ignore[type-arg]
    """Drop-in ``concurrent.futures.Future`` with lazy Condition and callback list."""

    def __init__(self) -> None:
        # Future.__init__ is deliberately not called: it allocates the Condition eagerly.
        self._state = PENDING
        self._result: Any = None
        self._exception: Optional[BaseException] = None
        self._cond: Optional[threading.Condition] = None
        # None, one callback (the usual case: the DFK's), or a list of several.
        self._callbacks: Any = None
        self._waiter_list: Optional[List[Any]] = None
        #: This future's stripe, picked once: every state change takes it.
        self._lock = _STRIPES[(id(self) >> 4) % _STRIPE_COUNT]

    def _stripe(self) -> threading.RLock:
        return self._lock

    @property
    def _condition(self) -> threading.Condition:  # type: ignore[override]
        cond = self._cond
        if cond is None:
            lock = self._stripe()
            with lock:
                cond = self._cond
                if cond is None:
                    cond = self._cond = threading.Condition(lock)
        return cond

    @property
    def _waiters(self) -> List[Any]:  # type: ignore[override]
        waiters = self._waiter_list
        if waiters is None:
            with self._stripe():
                waiters = self._waiter_list
                if waiters is None:
                    waiters = self._waiter_list = []
        return waiters

    @property
    def _done_callbacks(self) -> List[Callable[[Any], Any]]:
        callbacks = self._callbacks
        if callbacks is None:
            return []
        return callbacks if type(callbacks) is list else [callbacks]

    def __repr__(self) -> str:
        state = self._state
        if state == FINISHED:
            if self._exception is not None:
                return (f"<{type(self).__name__} at {id(self):#x} state=finished raised "
                        f"{type(self._exception).__name__}>")
            return (f"<{type(self).__name__} at {id(self):#x} state=finished returned "
                    f"{type(self._result).__name__}>")
        return f"<{type(self).__name__} at {id(self):#x} state={state.lower()}>"

    def done(self) -> bool:
        return self._state in _DONE_STATES

    def cancelled(self) -> bool:
        return self._state in _CANCELLED_STATES

    def running(self) -> bool:
        return self._state == RUNNING

    def _finish(self, result: Any, exception: Optional[BaseException]) -> None:
        with self._lock:
            if self._state in _DONE_STATES:
                raise InvalidStateError(f"{self._state}: {self!r}")
            self._result = result
            self._exception = exception
            self._state = FINISHED
            if self._cond is not None:
                for waiter in self._waiter_list or ():
                    if exception is None:
                        waiter.add_result(self)
                    else:
                        waiter.add_exception(self)
                self._cond.notify_all()
            callbacks = self._callbacks
            self._callbacks = None
        if callbacks is not None:
            if type(callbacks) is list:
                self._run_callbacks(callbacks)
                return
            try:
                callbacks(self)
            except Exception:
                logger.exception("exception calling callback for %r", self)

    def _fail_keeping_callbacks(self, exception: BaseException) -> Optional[
            List[Callable[[Any], Any]]]:
        """Fail the future as :meth:`set_exception` does (waiters wake), but return its
        done-callbacks instead of running them; InvalidStateError if it is done already.

        For failing many futures at once (:func:`parsl.executors.base.fail_futures`),
        where the caller hands the callbacks it knows (the DFK's) to one handler for the
        whole batch and runs the others itself.
        """
        with _STRIPES[(id(self) >> 4) % _STRIPE_COUNT]:
            return self._fail_while_held(exception)

    def _fail_while_held(self, exception: BaseException) -> Optional[
            List[Callable[[Any], Any]]]:
        """:meth:`_fail_keeping_callbacks` for a caller holding the future's stripe (see
        :func:`all_stripes_held`)."""
        if self._state in _DONE_STATES:
            raise InvalidStateError(f"{self._state}: {self!r}")
        self._exception = exception
        self._state = FINISHED
        if self._cond is not None:
            for waiter in self._waiter_list or ():
                waiter.add_exception(self)
            self._cond.notify_all()
        callbacks = self._callbacks
        self._callbacks = None
        # A single callback is stored without a list (see add_done_callback).
        if callbacks is None or type(callbacks) is list:
            return callbacks
        return [callbacks]

    def _run_callbacks(self, callbacks: Any) -> None:
        if type(callbacks) is not list:
            callbacks = (callbacks,)
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                logger.exception("exception calling callback for %r", self)

    def set_result(self, result: Any) -> None:
        self._finish(result, None)

    def set_exception(self, exception: Optional[BaseException]) -> None:
        self._finish(None, exception)

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        if self._state not in _DONE_STATES:
            with self._lock:
                if self._state not in _DONE_STATES:
                    # A lone callback is stored as is: no list per future.
                    callbacks = self._callbacks
                    if callbacks is None:
                        self._callbacks = fn
                    elif type(callbacks) is list:
                        callbacks.append(fn)
                    else:
                        self._callbacks = [callbacks, fn]
                    return
        try:
            fn(self)
        except Exception:
            logger.exception("exception calling callback for %r", self)

    def _outcome(self) -> Any:
        if self._state in _CANCELLED_STATES:
            raise CancelledError()
        exc = self._exception
        if exc is not None:
            try:
                raise exc
            finally:
                exc = None
        return self._result

    def _wait_done(self, timeout: Optional[float]) -> None:
        if self._state in _DONE_STATES:
            return
        cond = self._condition
        with cond:
            if not cond.wait_for(self.done, timeout):
                raise FutureTimeoutError()

    def result(self, timeout: Optional[float] = None) -> Any:
        state = self._state
        if state == FINISHED:
            if self._exception is None:
                return self._result
        else:
            self._wait_done(timeout)
        return self._outcome()

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        self._wait_done(timeout)
        if self._state in _CANCELLED_STATES:
            raise CancelledError()
        return self._exception

    def _mark_cancelled(self) -> bool:
        """Move a not-yet-finished future to CANCELLED; False if it already finished."""
        with self._stripe():
            if self._state in (RUNNING, FINISHED):
                return False
            if self._state in _CANCELLED_STATES:
                return True
            # Nothing will call set_running_or_notify_cancel on an app future, so waiters
            # from concurrent.futures.wait are told here.
            self._state = CANCELLED_AND_NOTIFIED
            for waiter in self._waiter_list or ():
                waiter.add_cancelled(self)
            if self._cond is not None:
                self._cond.notify_all()
            callbacks = self._callbacks
            self._callbacks = None
        if callbacks:
            self._run_callbacks(callbacks)
        return True

    def cancel(self) -> bool:
        return self._mark_cancelled()

    def set_running_or_notify_cancel(self) -> bool:
        with self._lock:
            if self._state == CANCELLED:
                self._state = CANCELLED_AND_NOTIFIED
                for waiter in self._waiter_list or ():
                    waiter.add_cancelled(self)
                return False
            if self._state == PENDING:
                self._state = RUNNING
                return True
            raise RuntimeError(f"Future in unexpected state: {self._state}")
