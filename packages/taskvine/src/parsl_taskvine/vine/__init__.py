"""TaskVine executor; importable as ``parsl.executors.taskvine``."""
from parsl_taskvine.vine.executor import TaskVineExecutor
from parsl_taskvine.vine.factory_config import TaskVineFactoryConfig
from parsl_taskvine.vine.manager_config import TaskVineManagerConfig

__all__ = ["TaskVineExecutor", "TaskVineFactoryConfig", "TaskVineManagerConfig"]
