"""What a failed try costs against ``Config(retries=...)``: shared by the DFK's
per-task failure path and the bulk failure path, so both charge tries alike."""
from __future__ import annotations

import logging
from typing import Callable, Optional, Tuple

from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger("parsl.dataflow.dflow")

#: ``Config.retry_handler``: (the try's exception, its task record) -> the try's cost.
RetryHandler = Callable[[Exception, TaskRecord], float]


def try_cost(retry_handler: Optional[RetryHandler], exception: BaseException,
             record: TaskRecord) -> Tuple[float, BaseException]:
    """The cost of the try that failed with ``exception`` (1 without a handler), and the
    exception the task carries on: a handler that raises makes the cost infinite (no
    retry) and its own error, caused by ``exception``, the task's exception."""
    if retry_handler is None:
        return 1.0, exception
    try:
        # A try's exception is an Exception in practice; the handler's type says so.
        return float(retry_handler(exception, record)), exception  # type: ignore[arg-type]
    except Exception as handler_error:
        logger.exception("Task %s: retry_handler raised; not retrying", record.id,
                         extra={"task_id": record.id})
        handler_error.__cause__ = exception
        return float("inf"), handler_error
