"""JobStatusPoller: the thread that watches blocks and applies the scaling strategy.

The DFK creates one poller for all block-based executors of a run. Every
``strategy_period`` seconds it asks each executor to refresh its block states and run its
block error handler (``poll_facade``), then lets the :class:`~parsl.jobs.strategy.Strategy`
launch or cancel blocks. Executors rate-limit their own provider polls, so a short
strategy period does not flood a batch scheduler.

The thread is a daemon and survives every exception raised while polling or scaling (each
is logged with the executor's label), so a scheduler outage degrades scaling instead of
stopping it. ``close`` stops the thread and cancels the executors' blocks.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from parsl.jobs.strategy import Strategy

if TYPE_CHECKING:
    from parsl.executors.status_handling import BlockProviderExecutor

logger = logging.getLogger(__name__)

__all__ = ["JobStatusPoller"]

#: How long ``close`` waits for the polling thread when no timeout is given.
DEFAULT_CLOSE_TIMEOUT = 30.0


class JobStatusPoller:
    """Periodically polls block-based executors and scales them with a strategy."""

    def __init__(self, *, strategy: Optional[str], max_idletime: float,
                 strategy_period: float) -> None:
        if strategy_period <= 0:
            from parsl.errors import BadParameter

            raise BadParameter("JobStatusPoller", "strategy_period", strategy_period,
                               "a number of seconds > 0")
        self._strategy = Strategy(strategy=strategy, max_idletime=max_idletime)
        self._strategy_period = strategy_period
        self._executors: List[BlockProviderExecutor] = []
        self._executors_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        #: What the polling thread calls each period (Parsl's attribute: tools and tests
        #: wrap it to observe or extend each round).
        self.callback: Callable[[], None] = self.poll

    @property
    def executors(self) -> List[BlockProviderExecutor]:
        """The executors being polled, in the order they were added."""
        with self._executors_lock:
            return list(self._executors)

    def add_executors(self, executors: Sequence[BlockProviderExecutor]) -> None:
        """Launch each executor's ``provider.init_blocks`` and start polling it.

        Submission failures become FAILED blocks (see ``scale_out_facade``), which the next
        poll hands to the executor's block error handler; nothing is raised here.
        """
        if self._closed:
            raise RuntimeError("JobStatusPoller is closed; executors cannot be added")
        for executor in executors:
            provider = executor.provider
            if provider is None:
                logger.debug("Executor %s has no provider; not polling it", executor.label)
                continue
            if provider.init_blocks > 0:
                logger.info("Executor %s: launching %d initial blocks", executor.label,
                            provider.init_blocks)
                executor.scale_out_facade(provider.init_blocks)
            with self._executors_lock:
                self._executors.append(executor)
            self._strategy.add_executors([executor])
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None and self.executors:
            self._thread = threading.Thread(target=self._run, name="parsl-job-status-poller",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        logger.debug("Job status poller started with period %s s", self._strategy_period)
        while not self._stop.wait(self._strategy_period):
            self.callback()
        logger.debug("Job status poller stopped")

    def poll(self) -> None:
        """One round: refresh every executor's blocks, then apply the strategy.

        Called by the polling thread; exposed so tests and tools can run a round on demand.
        """
        executors = self.executors
        for executor in executors:
            try:
                executor.poll_facade()
            except Exception:
                logger.exception("Polling blocks of executor %s failed", executor.label)
        if not self._stop.is_set():
            self._strategy.strategize(executors)

    def close(self, timeout: Optional[float] = None) -> None:
        """Stop polling and cancel every executor's remaining blocks.

        Waits at most ``timeout`` seconds (default 30) for a round in progress to finish;
        an executor whose scale-in fails is logged and the others still scale in.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is not None:
            bound = DEFAULT_CLOSE_TIMEOUT if timeout is None else timeout
            thread.join(bound)
            if thread.is_alive():
                logger.warning("Job status poller did not stop within %s s; it is a daemon "
                               "thread and will not keep Python alive", bound)
        for executor in self.executors:
            try:
                live = [b for b, js in executor.status().items() if not js.terminal]
                if not live:
                    continue
                logger.info("Scaling in %d blocks of executor %s", len(live), executor.label)
                if executor.bad_state_is_set:
                    # A bad executor's own scale_in may rely on services that are gone.
                    executor._cancel_all_blocks()
                else:
                    executor.scale_in_facade(len(live))
            except Exception:
                logger.exception("Could not scale in executor %s at close", executor.label)
