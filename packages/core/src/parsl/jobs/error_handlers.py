"""Block error handlers: decide when a block-based executor should stop trying.

A block-based executor calls its handler after every status poll with the status of all
its blocks. A handler that concludes the blocks will not come up calls
``executor.set_bad_state_and_fail_all(exception)``, which fails every outstanding task
with that exception instead of leaving them waiting forever for workers.

Pass one of these (or any callable with the same signature) as an executor's
``block_error_handler``; ``True`` selects :func:`simple_error_handler` and ``False``
:func:`noop_error_handler`.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Dict, List, Tuple

from parsl.jobs.errors import TooManyJobFailuresError
from parsl.jobs.states import JobState, JobStatus

if TYPE_CHECKING:
    from parsl.executors.status_handling import BlockProviderExecutor

logger = logging.getLogger(__name__)

__all__ = ["noop_error_handler", "simple_error_handler", "windowed_error_handler"]

#: States in which a block ended without having been asked to end.
FAILED_STATES = frozenset({JobState.FAILED, JobState.TIMEOUT, JobState.MISSING})


def noop_error_handler(executor: BlockProviderExecutor, status: Dict[str, JobStatus],
                       threshold: int = 3) -> None:
    """Never give up: for executors whose blocks are expected to fail and be replaced."""


def simple_error_handler(executor: BlockProviderExecutor, status: Dict[str, JobStatus],
                         threshold: int = 3) -> None:
    """Give up when every block so far has failed, once at least ``init_blocks`` (at
    least one) blocks have been tried, as Parsl does: with several initial blocks, the
    first failure alone does not stop the executor.

    A single healthy, completed, cancelled or scaled-in block means the resources can
    work, so the executor keeps going. ``threshold`` is replaced by the provider's
    ``init_blocks`` when it has one, as in Parsl.
    """
    if executor.bad_state_is_set or not status:
        return
    provider = executor.provider
    if provider is not None and hasattr(provider, "init_blocks"):
        threshold = max(1, provider.init_blocks)
    failed = _failed_blocks(status)
    if len(status) >= threshold and len(failed) == len(status):
        logger.error("Executor %s: all %d blocks failed; failing outstanding tasks",
                     executor.label, len(status))
        executor.set_bad_state_and_fail_all(make_block_failure_error(executor, failed))


def windowed_error_handler(executor: BlockProviderExecutor, status: Dict[str, JobStatus],
                           threshold: int = 3) -> None:
    """Give up when the ``threshold`` most recently launched blocks all failed.

    Unlike :func:`simple_error_handler` this tolerates old failures: an executor whose
    early blocks failed but whose newer blocks run keeps going, while a run of
    ``threshold`` consecutive failures stops it.
    """
    if executor.bad_state_is_set or len(status) < threshold:
        return
    newest = sorted(status, key=_block_order)[-threshold:]
    window = {block_id: status[block_id] for block_id in newest}
    failed = _failed_blocks(window)
    if len(failed) == threshold:
        logger.error("Executor %s: the last %d blocks failed; failing outstanding tasks",
                     executor.label, threshold)
        executor.set_bad_state_and_fail_all(make_block_failure_error(executor, failed))


def make_block_failure_error(executor: BlockProviderExecutor,
                             failed: Dict[str, JobStatus]) -> TooManyJobFailuresError:
    """Build the exception given to tasks, describing each failed block."""
    parts: List[str] = []
    for block_id in sorted(failed, key=_block_order):
        js = failed[block_id]
        lines = [f"block {block_id} ({js.state.name})"]
        if js.message:
            lines.append(f"  message: {js.message}")
        if js.exit_code is not None:
            lines.append(f"  EXIT CODE: {js.exit_code}")
        for name, text in (("STDOUT", js.stdout_summary), ("STDERR", js.stderr_summary)):
            if text and text.strip():
                indented = "\n".join("    " + line for line in text.strip().splitlines())
                lines.append(f"  {name} (tail):\n{indented}")
        parts.append("\n".join(lines))
    reason = (f"{len(failed)} block(s) failed:\n" + "\n".join(parts)) if parts \
        else "blocks failed without any message"
    # The label, not the executor, so the exception stays small and picklable.
    return TooManyJobFailuresError(executor.label, reason)


def _failed_blocks(status: Dict[str, JobStatus]) -> Dict[str, JobStatus]:
    return {block_id: js for block_id, js in status.items() if js.state in FAILED_STATES}


def _block_order(block_id: str) -> Tuple[int, str]:
    """Sort key: numeric block ids in launch order, any other ids after them."""
    try:
        return (int(block_id), "")
    except ValueError:
        return (2**63, block_id)
