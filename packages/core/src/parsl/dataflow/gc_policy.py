"""How often Python's full garbage collections run while a DataFlowKernel is loaded.

Why: every live task holds a few garbage-collected objects (its AppFuture, TaskRecord and
executor future), and a workflow that keeps 300,000 futures in a list holds about a
million of them. CPython runs a full collection, which walks every live object, each time
ten young (generation 1) collections have happened and the long-lived objects have grown
by a quarter. With a growing batch of live futures that is a full walk every few
thousand tasks, and it made the per-task cost grow with the number of tasks alive (the
thread executor's rate at 300,000 tasks per batch was about half its rate at 10,000).

While a DFK is loaded, and only if the program still runs with CPython's default
thresholds, the third threshold is raised from 10 to :data:`FULL_COLLECTION_EVERY`: a full
collection is considered after that many generation-1 collections (about 700,000 net
object allocations) instead of 10. Young collections are untouched, so short-lived cycles
are still reclaimed as fast as before; cycles that survive into the oldest generation wait
longer, which bounds the extra memory to the objects allocated in that window. A program
that set its own thresholds (``gc.set_threshold``) or disabled the collector is left
alone, and the previous thresholds come back when the last DFK is cleaned up.
"""
from __future__ import annotations

import gc
import logging
import threading
from typing import Optional, Tuple

logger = logging.getLogger(__name__)

#: CPython's default ``gc.get_threshold()``; only this setting is ever changed.
PYTHON_DEFAULT_THRESHOLDS = (700, 10, 10)

#: Generation-1 collections between two full collections while a DFK is loaded.
FULL_COLLECTION_EVERY = 100

_lock = threading.Lock()
_holders = 0
_saved: Optional[Tuple[int, ...]] = None
_applied: Optional[Tuple[int, ...]] = None


def relax_full_collections() -> bool:
    """Called at DFK start; returns True when the thresholds were changed for this DFK."""
    global _holders, _saved, _applied
    with _lock:
        if _holders:
            _holders += 1
            return True
        current = gc.get_threshold()
        if not gc.isenabled() or current != PYTHON_DEFAULT_THRESHOLDS:
            logger.debug("garbage collector thresholds %s left as the program set them",
                         current)
            return False
        _saved = current
        _applied = (current[0], current[1], FULL_COLLECTION_EVERY)
        gc.set_threshold(*_applied)
        _holders = 1
        logger.debug("full garbage collections every %d generation-1 collections while "
                     "the DFK runs (was %d)", FULL_COLLECTION_EVERY, current[2])
        return True


def restore_full_collections() -> None:
    """Called at DFK cleanup, once per successful :func:`relax_full_collections`."""
    global _holders, _saved, _applied
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders:
            return
        if _saved is not None and gc.get_threshold() == _applied:
            gc.set_threshold(*_saved)
        else:
            logger.debug("garbage collector thresholds changed while the DFK ran; "
                         "not restoring them")
        _saved = None
        _applied = None
