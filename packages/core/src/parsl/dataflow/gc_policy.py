"""How often Python's full garbage collections run while a DataFlowKernel is loaded.

Why: every live task holds a few garbage-collected objects (its AppFuture, TaskRecord and
executor future), and a workflow that keeps 300,000 futures in a list holds about a
million of them. CPython runs a full collection, which walks every live object, each time
ten young (generation 1) collections have happened and the long-lived objects have grown
by a quarter. With a growing batch of live futures that is a full walk every few
thousand tasks, and it made the per-task cost grow with the number of tasks alive (the
thread executor's rate at 300,000 tasks per batch was about half its rate at 10,000).

While a DFK is loaded, and only if the program still runs with CPython's default
thresholds, two thresholds are raised:

* the first from 700 to :data:`YOUNG_COLLECTION_EVERY` net allocations. A task allocates
  a handful of tracked objects on its way (its executor future, the queue entry, argument
  tuples) that die when it completes a moment later; with 700 most of them were still
  alive at the next young collection, so each was walked once or twice for nothing.
  A young collection still comes after a few hundred tasks, so short-lived cycles are
  reclaimed soon (at most a few thousand objects wait).
* the third from 10 to :data:`FULL_COLLECTION_EVERY`: a full collection is considered
  after that many generation-1 collections (about two million net allocations) instead
  of 10. Cycles that survive into the oldest generation wait longer, which bounds the
  extra memory to the objects allocated in that window; CPython's own rule (a full
  collection only once the long-lived objects grew by a quarter) still applies.

A program that set its own thresholds (``gc.set_threshold``) or disabled the collector is
left alone, and the previous thresholds come back when the last DFK is cleaned up.
"""
from __future__ import annotations

import gc
import logging
import threading
from typing import Optional, Tuple

logger = logging.getLogger(__name__)

#: CPython's default ``gc.get_threshold()``; only this setting is ever changed.
PYTHON_DEFAULT_THRESHOLDS = (700, 10, 10)

#: Net allocations of tracked objects between two young collections while a DFK is loaded.
YOUNG_COLLECTION_EVERY = 2000

#: Generation-1 collections between two full collections while a DFK is loaded.
FULL_COLLECTION_EVERY = 100

#: The thresholds while a DFK is loaded.
RELAXED_THRESHOLDS = (YOUNG_COLLECTION_EVERY, PYTHON_DEFAULT_THRESHOLDS[1],
                      FULL_COLLECTION_EVERY)

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
        _applied = RELAXED_THRESHOLDS
        gc.set_threshold(*_applied)
        _holders = 1
        logger.debug("garbage collector thresholds %s while the DFK runs (were %s)",
                     _applied, current)
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
