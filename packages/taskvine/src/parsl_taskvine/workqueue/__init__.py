"""Work Queue executor; importable as ``parsl.executors.workqueue``."""
from parsl_taskvine.workqueue.executor import WorkQueueExecutor

__all__ = ["WorkQueueExecutor"]
