"""TaskVine errors; importable as ``parsl.executors.taskvine.errors``."""
from parsl_taskvine.errors import (
    TaskVineFactoryFailure,
    TaskVineManagerFailure,
    TaskVineTaskFailure,
)

__all__ = ["TaskVineFactoryFailure", "TaskVineManagerFailure", "TaskVineTaskFailure"]
