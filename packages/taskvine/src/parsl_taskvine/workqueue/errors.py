"""Work Queue errors; importable as ``parsl.executors.workqueue.errors``."""
from parsl_taskvine.errors import WorkQueueFailure, WorkQueueTaskFailure

__all__ = ["WorkQueueFailure", "WorkQueueTaskFailure"]
