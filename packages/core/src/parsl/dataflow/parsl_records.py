"""Parsl's per-task log records, for those who listen beyond parsl.log.

Parsl logs each task's submission, dependencies, state changes and executor binding as
INFO records carrying ``parsl.*`` attributes (``parsl.task``, ``parsl.task_state``,
``parsl.executor``...). Programs and tests that attach their own handlers (a
``logging.basicConfig`` handler, pytest's ``caplog``) read them. Making and formatting
several records per task is most of what Parsl's logging costs, so the DFK writes them
only while the root logger has a handler to receive them (checked per task, so a handler
attached mid-run is served); parsl.log itself gets batched per-task events instead (see
:mod:`parsl.log_context`).
"""
from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, List

from parsl.logconfigs.base import PARSL_HANDLER_MARK

if TYPE_CHECKING:
    from parsl.dataflow.states import States
    from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger("parsl.dataflow.dflow")

#: The root logger: the DFK writes Parsl's per-task records only while it has handlers
#: (``ROOT.handlers``, read per task: some programs replace the list) other than the
#: run's own (JSONLogging attaches its handler to the root logger).
ROOT = logging.getLogger()


def listening() -> bool:
    """Whether a root handler other than the run's own logging's would get the records."""
    for handler in ROOT.handlers:
        if not getattr(handler, PARSL_HANDLER_MARK, False):
            return True
    return False


def submitted(run_id: str, record: TaskRecord, depends: List[Future[Any]]) -> None:
    tid = record.id
    for dep in depends:
        dep_record = getattr(dep, "task_record", None)
        if dep_record is not None and dep_record.dfk is record.dfk:
            logger.info("Task %s depends on task %s", tid, dep_record.id,
                        extra={"parsl.dfk": run_id, "parsl.task": tid,
                               "parsl.dependency_task": dep_record.id})
        else:
            logger.info("Task %s depends on future %r", tid, dep,
                        extra={"parsl.dfk": run_id, "parsl.task": tid,
                               "parsl.dependency_object": repr(dep)})
    logger.info("Task %s of app %s submitted, %s", tid, record.func_name,
                f"waiting for {len(depends)} dependencies" if depends else "ready to run",
                extra={"parsl.dfk": run_id, "parsl.task": tid,
                       "parsl.app_name": record.func_name})


def state_changed(run_id: str, record: TaskRecord, old: States, new: States) -> None:
    logger.info("Task %s state: %s -> %s", record.id, old.name, new.name,
                extra={"parsl.dfk": run_id, "parsl.task": record.id,
                       "parsl.task_state": new.name})


def launched(run_id: str, record: TaskRecord, exec_fu: Future[Any]) -> None:
    extra = {"parsl.dfk": run_id, "parsl.task": record.id, "parsl.try": record.try_id,
             "parsl.executor": record.executor}
    executor_task = getattr(exec_fu, "parsl_executor_task_id", None)
    if executor_task is None:
        logger.info("Task %s try %s launched on executor %s", record.id, record.try_id,
                    record.executor, extra=extra)
    else:
        extra["parsl.executor_task"] = executor_task
        logger.info("Task %s try %s launched on executor %s as its task %s", record.id,
                    record.try_id, record.executor, executor_task, extra=extra)
