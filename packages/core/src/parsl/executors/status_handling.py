"""BlockProviderExecutor: the base of executors whose workers run in provider blocks.

A pilot-job executor (HighThroughputExecutor, WorkQueue, TaskVine, ...) does not run tasks
itself: it asks its provider for *blocks* (batch jobs, local process groups, cloud
instances) that start workers, and the workers connect back for tasks. This base class
owns everything about blocks that does not depend on how tasks travel:

- numbering blocks and remembering which provider job each one is
  (``blocks_to_job_id`` / ``job_ids_to_block``);
- launching (``scale_out_facade``) and cancelling (``scale_in_facade``) blocks, turning a
  refused submission into a FAILED block instead of an exception in the scaling thread;
- polling the provider for block states at most every ``status_polling_interval`` and
  merging in the states the executor knows without asking (submission failed, scaled in);
- running the block error handler after each poll, which may put the executor in a bad
  state and fail every outstanding task with the reason the blocks failed.

Subclasses provide the launch command (``_get_launch_command``), the task counts the
scaling strategy reads (``outstanding``, ``workers_per_node``, ``connected_workers``) and
how to fail their own pending futures (``_fail_all_outstanding``). HTEX also overrides
``scale_in`` to choose idle blocks.
"""
from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from abc import abstractmethod
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from parsl.executors.base import ParslExecutor, fail_futures
from parsl.executors.errors import ScalingFailed
from parsl.jobs.error_handlers import noop_error_handler, simple_error_handler
from parsl.jobs.states import JobState, JobStatus
from parsl.log_context import ids as log_ids
from parsl.providers.base import ExecutionProvider

logger = logging.getLogger(__name__)

#: Characters kept from a label in block job names: batch systems and job scripts differ
#: in how they treat anything else (spaces, quotes, ``$``).
_JOB_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

__all__ = ["BlockErrorHandler", "BlockProviderExecutor", "BlockStatusListener"]

BlockErrorHandler = Callable[["BlockProviderExecutor", Dict[str, JobStatus]], None]
#: Called with the executor and the blocks whose state changed, after each status refresh.
BlockStatusListener = Callable[["BlockProviderExecutor", Dict[str, JobStatus]], None]


class OutstandingCount(int):
    """An ``int`` that can also be called for its value: ``executor.outstanding`` (Parsl
    1.x, a property) and ``executor.outstanding()`` (current Parsl, a method) both work."""

    __slots__ = ()

    def __call__(self) -> int:
        return int(self)


class BlockProviderExecutor(ParslExecutor):
    """Base class for executors that obtain workers in blocks from a provider.

    ``block_error_handler`` decides when failing blocks should fail the executor: ``True``
    (the default) uses :func:`parsl.jobs.error_handlers.simple_error_handler` (every block
    failed), ``False`` never gives up, and a callable ``handler(executor, status)`` decides
    for itself, typically by calling :meth:`set_bad_state_and_fail_all`.
    """

    def __init__(self, *, provider: Optional[ExecutionProvider],
                 block_error_handler: Union[bool, BlockErrorHandler] = True) -> None:
        super().__init__()
        self.provider = provider
        if block_error_handler is True:
            self.block_error_handler: BlockErrorHandler = simple_error_handler
        elif block_error_handler is False:
            self.block_error_handler = noop_error_handler
        else:
            self.block_error_handler = block_error_handler
        self.blocks_to_job_id: Dict[str, str] = {}
        self.job_ids_to_block: Dict[str, str] = {}
        #: Tasks submitted and not finished, for subclasses that track futures here; the
        #: default ``_fail_all_outstanding`` fails every pending future in it.
        self._tasks: Dict[Any, Future[Any]] = {}
        #: Callables notified of block state changes (monitoring attaches here).
        self.block_status_listeners: List[BlockStatusListener] = []
        self._block_id_counter = itertools.count()
        self._blocks_lock = threading.RLock()
        self._polled_status: Dict[str, JobStatus] = {}
        self._simulated_status: Dict[str, JobStatus] = {}
        self._last_poll: Optional[float] = None
        self._executor_bad_state = threading.Event()
        self._executor_exception: Optional[BaseException] = None

    # ------------------------------------------------------------------ what subclasses give

    @abstractmethod
    def _get_launch_command(self, block_id: str) -> str:
        """Return the shell command that starts this executor's workers in block ``block_id``."""

    @property
    @abstractmethod
    def outstanding(self) -> int:
        """Number of tasks submitted and not yet finished; the strategy scales on it.

        Parsl 1.x reads it as a property and current Parsl calls it as a method:
        implementations return an :class:`OutstandingCount`, which serves both.
        """

    @property
    @abstractmethod
    def workers_per_node(self) -> Union[int, float]:
        """Tasks one node of a block runs at once (``float('inf')`` when unbounded)."""

    @property
    def connected_workers(self) -> int:
        """Workers currently connected; 0 for executors that cannot tell."""
        return 0

    def _fail_all_outstanding(self, exception: BaseException) -> None:
        """Fail every task that has not finished with ``exception``.

        The default fails the pending futures in ``self._tasks``, each with its own copy of
        ``exception`` (see :func:`parsl.errors.copy_exception`); executors that keep their
        futures elsewhere override this.
        """
        fail_futures(self.label, list(self._tasks.values()), exception)

    # ------------------------------------------------------------------ bad state

    @property
    def bad_state_is_set(self) -> bool:
        """Whether the executor has given up; no blocks are launched once it has."""
        return self._executor_bad_state.is_set()

    @property
    def executor_exception(self) -> Optional[BaseException]:
        """The exception that put the executor in a bad state, if it is in one."""
        return self._executor_exception

    def set_bad_state_and_fail_all(self, exception: BaseException) -> None:
        """Record ``exception`` as the reason the executor cannot run tasks and fail them all.

        The first reason recorded is kept; later calls still fail tasks submitted since.
        Subclasses should make ``submit`` raise ``executor_exception`` once this is set.
        """
        with self._blocks_lock:
            if self._executor_exception is None:
                self._executor_exception = exception
                logger.error("Executor %s is in a bad state and fails all outstanding tasks: %s",
                             self.label, exception)
            self._executor_bad_state.set()
        self._fail_all_outstanding(exception)

    # ------------------------------------------------------------------ block launching

    @property
    def status_polling_interval(self) -> float:
        """Seconds between provider polls: the provider's interval, or 0 without a provider."""
        if self.provider is None:
            return 0
        return float(self.provider.status_polling_interval)

    def _launch_block(self, block_id: str) -> Any:
        """Submit block ``block_id`` to the provider and return the provider's job id."""
        if self.provider is None:
            raise ScalingFailed(self.label, "the executor has no provider to launch blocks with")
        launch_cmd = self._get_launch_command(block_id)
        label = _JOB_NAME_UNSAFE.sub("_", self.label)
        job_name = f"parsl.{label}.block-{block_id}.{time.time():.3f}"
        with log_ids(executor=self.label, block_id=block_id):
            logger.debug("Executor %s submitting block %s as job %s", self.label, block_id,
                         job_name)
            job_id = self.provider.submit(launch_cmd, 1, job_name)
        if job_id is None:
            raise ScalingFailed(self.label, f"provider {type(self.provider).__name__} returned no "
                                f"job id for block {block_id}")
        return job_id

    def scale_out_facade(self, n: int) -> List[str]:
        """Launch ``n`` blocks; return the ids of those the provider accepted.

        A block whose submission raises is recorded as a FAILED block carrying the error,
        so the block error handler sees it; nothing is raised to the caller.
        """
        if self.provider is None:
            logger.warning("Executor %s has no provider; not launching %d blocks", self.label, n)
            return []
        if self.bad_state_is_set:
            logger.warning("Executor %s is in a bad state; not launching %d blocks",
                           self.label, n)
            return []
        launched: List[str] = []
        for _ in range(n):
            block_id = str(next(self._block_id_counter))
            try:
                job_id = self._launch_block(block_id)
            except Exception as e:
                logger.error("Executor %s failed to launch block %s: %s: %s", self.label,
                             block_id, type(e).__name__, e,
                             extra={"executor": self.label, "block_id": block_id})
                failed = JobStatus(JobState.FAILED,
                                   f"failed to submit block {block_id}: {type(e).__name__}: {e}")
                with self._blocks_lock:
                    self._simulated_status[block_id] = failed
                self._notify({block_id: failed})
                continue
            pending = JobStatus(JobState.PENDING)
            with self._blocks_lock:
                self.blocks_to_job_id[block_id] = job_id
                self.job_ids_to_block[job_id] = block_id
                self._polled_status[block_id] = pending
            logger.info("Executor %s launched block %s as job %s", self.label, block_id, job_id,
                        extra={"executor": self.label, "block_id": block_id, "job_id": job_id})
            self._notify({block_id: pending})
            launched.append(block_id)
        return launched

    # ------------------------------------------------------------------ block cancelling

    def scale_in(self, blocks: int, max_idletime: Optional[float] = None) -> List[str]:
        """Cancel up to ``blocks`` blocks and return their ids.

        The default cancels the newest blocks that are still pending or running, through
        ``provider.cancel``. It has no idea which blocks are idle and so ignores
        ``max_idletime``; executors that know (HTEX) override this to cancel only blocks
        idle for longer than ``max_idletime`` seconds.
        """
        if blocks <= 0:
            return []
        status = self.status()
        live = [block_id for block_id in sorted(status, key=_block_sort_key, reverse=True)
                if not status[block_id].terminal and block_id in self.blocks_to_job_id]
        chosen = live[:blocks]
        self._cancel_blocks(chosen)
        return chosen

    def _cancel_blocks(self, block_ids: List[str]) -> List[str]:
        """Cancel ``block_ids`` through the provider; return those the provider accepted."""
        if not block_ids or self.provider is None:
            return []
        job_ids = [self.blocks_to_job_id[b] for b in block_ids]
        logger.info("Executor %s cancelling blocks %s (jobs %s)", self.label, block_ids, job_ids)
        with log_ids(executor=self.label):
            results = self.provider.cancel(job_ids)
        accepted = [b for b, ok in zip(block_ids, results) if ok]
        refused = [b for b, ok in zip(block_ids, results) if not ok]
        if refused:
            logger.warning("Executor %s: provider did not cancel blocks %s", self.label, refused)
        return accepted

    def scale_in_facade(self, n: int, max_idletime: Optional[float] = None) -> List[str]:
        """Scale in by up to ``n`` blocks via :meth:`scale_in`; mark them SCALED_IN."""
        block_ids = self.scale_in(n, max_idletime=max_idletime)
        if block_ids:
            scaled_in = {block_id: JobStatus(JobState.SCALED_IN) for block_id in block_ids}
            with self._blocks_lock:
                self._simulated_status.update(scaled_in)
            logger.info("Executor %s scaled in blocks %s", self.label, block_ids)
            self._notify(scaled_in)
        return block_ids

    # ------------------------------------------------------------------ status

    def status(self) -> Dict[str, JobStatus]:
        """Return every block's status, polling the provider if the last poll is old enough.

        Merges provider-reported states with states the executor set itself (FAILED for a
        refused submission, SCALED_IN after scale-in), the latter winning. Terminal blocks
        are not polled again.
        """
        interval = self.status_polling_interval
        now = time.monotonic()
        with self._blocks_lock:
            due = self._last_poll is None or now - self._last_poll >= interval
            if due and self.provider is not None:
                self._last_poll = now
                self._poll_provider()
            merged = dict(self._polled_status)
            merged.update(self._simulated_status)
        return {block_id: merged[block_id] for block_id in sorted(merged, key=_block_sort_key)}

    @property
    def status_facade(self) -> Dict[str, JobStatus]:
        """Alias of :meth:`status`, the name Parsl's scaling code uses."""
        return self.status()

    def _poll_provider(self) -> None:
        assert self.provider is not None
        to_poll = [block_id for block_id, js in self._polled_status.items()
                   if not js.terminal and block_id not in self._simulated_status]
        if not to_poll:
            return
        job_ids = [self.blocks_to_job_id[block_id] for block_id in to_poll]
        with log_ids(executor=self.label):
            statuses = self.provider.status(job_ids)
        if len(statuses) != len(job_ids):
            raise ScalingFailed(self.label, f"provider {type(self.provider).__name__} returned "
                                f"{len(statuses)} statuses for {len(job_ids)} jobs")
        changed = {}
        for block_id, js in zip(to_poll, statuses):
            if self._polled_status.get(block_id) != js:
                changed[block_id] = js
            self._polled_status[block_id] = js
        if changed:
            logger.debug("Executor %s block status changes: %s", self.label, changed)
            self._notify(changed)

    def _notify(self, changed: Dict[str, JobStatus]) -> None:
        for listener in list(self.block_status_listeners):
            try:
                listener(self, changed)
            except Exception:
                logger.exception("Executor %s: block status listener %r failed", self.label,
                                 listener)

    def poll_facade(self) -> None:
        """Refresh block statuses and run the block error handler on them."""
        self.handle_errors(self.status())

    def handle_errors(self, status: Dict[str, JobStatus]) -> None:
        """Run the block error handler, which may call :meth:`set_bad_state_and_fail_all`."""
        self.block_error_handler(self, status)

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, block: bool = False) -> None:
        """Cancel every block still pending or running; bounded by the provider's cancel.

        ``block`` is accepted for the base signature; cancellation always waits for the
        provider, whose ``cancel`` is itself bounded. Subclasses that override ``shutdown``
        call this after stopping their own services, so no block outlives the executor.
        """
        self._cancel_all_blocks()

    def _cancel_all_blocks(self) -> None:
        """Cancel, through the provider, every block not known to be finished; never raises.

        Unlike :meth:`scale_in` this needs nothing but the provider, so it is safe on an
        executor in a bad state whose own services may be gone.
        """
        try:
            status = self.status()
        except Exception:
            logger.exception("Executor %s could not refresh block status at shutdown; "
                             "cancelling every block not known to be finished", self.label)
            with self._blocks_lock:
                status = dict(self._polled_status)
                status.update(self._simulated_status)
        live = [block_id for block_id, js in status.items()
                if not js.terminal and block_id in self.blocks_to_job_id]
        if not live:
            return
        try:
            cancelled = self._cancel_blocks(live)
        except Exception:
            logger.exception("Executor %s could not cancel blocks %s at shutdown", self.label,
                             live)
            return
        scaled_in = {block_id: JobStatus(JobState.SCALED_IN) for block_id in cancelled}
        with self._blocks_lock:
            self._simulated_status.update(scaled_in)
        self._notify(scaled_in)


def _block_sort_key(block_id: str) -> Tuple[int, str]:
    """Numeric block ids in launch order; any other ids after them."""
    try:
        return (int(block_id), "")
    except ValueError:
        return (2**63, block_id)
