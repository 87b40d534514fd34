"""Every hook a plugin can implement, in one module.

Plugins are discovered from the ``parsl.plugins`` entry-point group (a module or object
with ``@hookimpl`` functions) and from ``Config(plugins=[...])``; ``Config(monitoring=...)``
is registered the same way. The dataflow kernel calls these hooks and knows nothing of the
plugins behind them. Hooks that run per task are skipped entirely when no plugin
implements them, so they cost nothing in a run without plugins.

Set ``PARSL_TRACE_HOOKS=1`` to log every hook call and its result at DEBUG level.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

import pluggy

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.states import States
    from parsl.dataflow.taskrecord import TaskRecord
    from parsl.jobs.states import JobStatus

PROJECT = "parsl"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def parsl_dfk_start(dfk: DataFlowKernel) -> None:
    """Called by the DFK once at the end of ``parsl.load()``, after every executor started.

    ``dfk.run_dir`` and ``dfk.run_id`` are set. Results are ignored.
    """


@hookspec
def parsl_prepare_executor(dfk: DataFlowKernel, executor: Any) -> None:
    """Called by the DFK for each executor (the internal one included) right before its
    ``start()``, with ``run_dir`` and ``run_id`` already set on it.

    Lets a plugin configure an executor before it launches anything, e.g. monitoring
    tells HTEX's workers where to send per-task events. Called during ``parsl.load()``,
    before ``parsl_dfk_start``. Results are ignored; an exception aborts the load.
    """


@hookspec
def parsl_dfk_cleanup(dfk: DataFlowKernel) -> None:
    """Called by the DFK at the start of ``dfk.cleanup()``, before executors shut down.

    Called once per DFK. Task futures may still be pending. Results are ignored.
    """


@hookspec
def parsl_dfk_executors_shutdown(dfk: DataFlowKernel) -> None:
    """Called by the DFK in ``dfk.cleanup()`` once every executor has been shut down,
    before the run's log closes. Called once per DFK. Results are ignored.

    Lets a plugin record what happened while executors shut down (e.g. monitoring's final
    block states) and then release what it holds.
    """


@hookspec
def parsl_task_state_change(dfk: DataFlowKernel, task_record: TaskRecord,
                            old_state: States, new_state: States) -> None:
    """Called by the DFK on every task state transition, on the thread that caused it.

    ``task_record.status`` is already ``new_state``. Implementations must be quick and
    must not block: they run on executor callback threads. Results are ignored.
    """


@hookspec
def parsl_task_try_launched(dfk: DataFlowKernel, task_record: TaskRecord, try_id: int,
                            executor_label: str) -> None:
    """Called by the DFK right after a try of a task was handed to an executor.

    ``try_id`` counts from 0. Results are ignored.
    """


@hookspec
def parsl_task_try_finished(dfk: DataFlowKernel, task_record: TaskRecord, try_id: int,
                            exception: Optional[BaseException]) -> None:
    """Called by the DFK when a try of a task ended, successfully (``exception`` None) or not.

    Called before the DFK decides to retry or fail the task. Results are ignored.
    """


@hookspec
def parsl_block_status_change(dfk: DataFlowKernel, executor_label: str,
                              changes: Dict[str, JobStatus]) -> None:
    """Called by the DFK when the status poller sees blocks of a block-based executor
    change state (submitted, running, failed, scaled in...).

    ``changes`` maps block id to its new JobStatus. Called on the poller's thread.
    Results are ignored.
    """


@hookspec(firstresult=True)
def parsl_memo_key(obj: Any, output_ref: bool) -> Optional[bytes]:
    """Called by the memoizer for an argument type it does not know, to get its memo key.

    Return bytes that identify ``obj`` across runs, or None if this plugin does not know
    the type. ``output_ref`` is True when ``obj`` is in the task's ``outputs`` list. The
    first non-None result wins.
    """
