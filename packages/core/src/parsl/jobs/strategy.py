"""Scaling strategies: how many blocks each block-based executor should have.

The job status poller calls :meth:`Strategy.strategize` every ``strategy_period`` seconds.
For each executor it compares the work waiting (``executor.outstanding``) with the
capacity of its live blocks (``blocks * nodes_per_block * workers_per_node``) and launches
or cancels blocks, always within the provider's ``min_blocks`` and ``max_blocks``.

Strategies (``Config(strategy=...)``):

``"simple"``
    Launch blocks until the capacity covers ``parallelism`` times the outstanding tasks;
    when no task has been outstanding for ``max_idletime`` seconds, cancel blocks down to
    ``min_blocks``. Never cancels blocks while tasks are outstanding.
``"htex_auto_scale"``
    Like ``"simple"``, and also, while tasks are outstanding, cancels blocks whose
    capacity exceeds what the remaining tasks need. It asks the executor's ``scale_in``
    for blocks idle longer than ``max_idletime``, so only executors that know which blocks
    are idle (HTEX) give up busy-looking capacity.
``"none"`` or ``None``
    Only the provider's ``init_blocks`` are ever launched.
"""
from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

from parsl.errors import BadParameter

if TYPE_CHECKING:
    from parsl.executors.status_handling import BlockProviderExecutor

logger = logging.getLogger(__name__)

__all__ = ["STRATEGIES", "Strategy"]

STRATEGIES = ("simple", "htex_auto_scale", "none")


class _ExecutorState:
    """What the strategy remembers about one executor between rounds."""

    __slots__ = ("idle_since",)

    def __init__(self) -> None:
        self.idle_since: Optional[float] = None


class Strategy:
    """Decides scale-out and scale-in for a set of block-based executors.

    ``clock`` returns the current time in seconds (default ``time.monotonic``); tests pass
    a controllable one to exercise ``max_idletime`` without waiting.
    """

    def __init__(self, *, strategy: Optional[str], max_idletime: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        name = "none" if strategy is None else strategy
        if name not in STRATEGIES:
            raise BadParameter("Strategy", "strategy", strategy,
                               "one of " + ", ".join(repr(s) for s in STRATEGIES) + " or None")
        if max_idletime < 0:
            raise BadParameter("Strategy", "max_idletime", max_idletime, "a number >= 0")
        self.strategy = name
        self.max_idletime = max_idletime
        self._clock = clock
        self._states: Dict[str, _ExecutorState] = {}
        logger.debug("Scaling strategy %r with max_idletime %s s", name, max_idletime)

    def add_executors(self, executors: Sequence[BlockProviderExecutor]) -> None:
        """Start tracking ``executors`` (idle timers start fresh)."""
        for executor in executors:
            self._states.setdefault(executor.label, _ExecutorState())

    def strategize(self, executors: List[BlockProviderExecutor]) -> None:
        """Make one round of scaling decisions for each of ``executors``.

        An exception while scaling one executor is logged with its label and does not stop
        the others, so one broken provider never freezes every executor's scaling.
        """
        if self.strategy == "none":
            return
        for executor in executors:
            try:
                self._strategize_one(executor)
            except Exception:
                logger.exception("Scaling strategy %r failed for executor %s", self.strategy,
                                 executor.label)

    def _strategize_one(self, executor: BlockProviderExecutor) -> None:
        label = executor.label
        provider = executor.provider
        if provider is None:
            return
        if executor.bad_state_is_set:
            logger.debug("Executor %s is in a bad state; not scaling it", label)
            return
        state = self._states.setdefault(label, _ExecutorState())

        status = executor.status_facade  # Parsl's name; a mapping of block id to JobStatus
        active_blocks = sum(1 for js in status.values() if not js.terminal)
        tasks = executor.outstanding
        if callable(tasks):  # an OutstandingCount, or a method as in current Parsl
            tasks = tasks()
        min_blocks = provider.min_blocks
        max_blocks = provider.max_blocks
        slots_per_block = float(executor.workers_per_node) * provider.nodes_per_block
        parallelism = float(provider.parallelism)
        logger.debug("Executor %s: %d outstanding tasks, %d active blocks, %s slots per block "
                     "(min %d, max %d, parallelism %s)", label, tasks, active_blocks,
                     slots_per_block, min_blocks, max_blocks, parallelism)

        if tasks == 0:
            if active_blocks < min_blocks:
                state.idle_since = None
                logger.info("Executor %s has %d blocks, fewer than min_blocks %d; launching %d",
                            label, active_blocks, min_blocks, min_blocks - active_blocks)
                executor.scale_out_facade(min_blocks - active_blocks)
            else:
                self._scale_in_when_idle(executor, state, active_blocks, min_blocks)
            return
        state.idle_since = None

        wanted = _blocks_for(tasks, parallelism, slots_per_block)
        wanted = max(min_blocks, min(max_blocks, wanted))
        if wanted > active_blocks:
            logger.info("Executor %s: %d outstanding tasks need %d blocks, %d active; "
                        "launching %d", label, tasks, wanted, active_blocks,
                        wanted - active_blocks)
            executor.scale_out_facade(wanted - active_blocks)
        elif self.strategy == "htex_auto_scale" and wanted < active_blocks:
            excess = active_blocks - wanted
            logger.debug("Executor %s: %d blocks more than %d outstanding tasks need; asking to "
                         "scale in idle ones", label, excess, tasks)
            executor.scale_in_facade(excess, max_idletime=self.max_idletime)

    def _scale_in_when_idle(self, executor: BlockProviderExecutor, state: _ExecutorState,
                            active_blocks: int, min_blocks: int) -> None:
        if active_blocks <= min_blocks:
            state.idle_since = None
            return
        now = self._clock()
        if state.idle_since is None:
            state.idle_since = now
            logger.debug("Executor %s has no outstanding tasks; idle since now", executor.label)
        idle_for = now - state.idle_since  # with max_idletime=0, scale in at once
        if idle_for < self.max_idletime:
            return
        excess = active_blocks - min_blocks
        logger.info("Executor %s idle for %.1f s (max_idletime %s s); scaling in %d blocks",
                    executor.label, idle_for, self.max_idletime, excess)
        executor.scale_in_facade(excess)
        state.idle_since = None


def _blocks_for(tasks: int, parallelism: float, slots_per_block: float) -> int:
    """Blocks needed so capacity covers ``parallelism * tasks``; at least 1 for any task."""
    if tasks <= 0:
        return 0
    if math.isinf(slots_per_block):
        return 1
    slots_wanted = max(1, math.ceil(tasks * parallelism))
    if slots_per_block <= 0:
        logger.warning("Executor reports %s slots per block; assuming 1", slots_per_block)
        slots_per_block = 1
    return max(1, math.ceil(slots_wanted / slots_per_block))
