"""Config: what a run uses (executors) and how it behaves (retries, caching, logging)."""
from __future__ import annotations

import logging
import os
import re
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Literal,
    Optional,
    Sequence,
    Union,
)

from parsl._validation import validate_init
from parsl.errors import BadParameter, ConfigurationError
from parsl.executors.base import ParslExecutor
from parsl.logconfigs.base import LogConfig
from parsl.usage_tracking.levels import DISABLED as USAGE_TRACKING_DISABLED
from parsl.usage_tracking.levels import LEVEL_3 as USAGE_TRACKING_LEVEL_3

if TYPE_CHECKING:
    from parsl.dataflow.memoization import Memoizer
    from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger(__name__)

CheckpointMode = Literal["task_exit", "periodic", "dfk_exit", "manual"]
_PERIOD = re.compile(r"^\d+:[0-5]?\d:[0-5]?\d$")


class Config:
    """Specification of a Parsl run, with the parameters of Parsl's ``Config``.

    Besides Parsl's parameters: ``plugins`` registers pluggy plugin objects for this run
    only (see :mod:`parsl.plugins.hookspecs`), and ``log_level`` is the level of
    ``runinfo/NNN/parsl.log`` (INFO by default; ``parsl.log_context.TASK_EVENTS`` adds one
    line per task event, DEBUG adds everything).

    ``initialize_logging`` is True (``parsl.log`` as text at ``log_level``; executors keep
    their own logging), False (no logging set up) or a :class:`parsl.logconfigs.LogConfig`
    that the DFK and every executor process (interchange, managers, workers) initialize.
    """

    @validate_init
    def __init__(self,
                 executors: Optional[Iterable[ParslExecutor]] = None,
                 app_cache: bool = True,
                 checkpoint_files: Optional[Sequence[str]] = None,
                 checkpoint_mode: Optional[CheckpointMode] = None,
                 checkpoint_period: Optional[str] = None,
                 dependency_resolver: Optional[Any] = None,
                 exit_mode: Literal["cleanup", "skip", "wait"] = "cleanup",
                 garbage_collect: bool = True,
                 internal_tasks_max_threads: int = 10,
                 retries: int = 0,
                 retry_handler: Optional[Callable[[Exception, TaskRecord], float]] = None,
                 run_dir: str = "runinfo",
                 std_autopath: Optional[Callable[..., Any]] = None,
                 strategy: Optional[str] = "simple",
                 strategy_period: Union[float, int] = 5,
                 max_idletime: float = 120.0,
                 monitoring: Optional[Any] = None,
                 usage_tracking: int = 0,
                 project_name: Optional[str] = None,
                 initialize_logging: Union[bool, LogConfig] = True,
                 memoizer: Optional[Memoizer] = None,
                 plugins: Sequence[Any] = (),
                 log_level: int = logging.INFO) -> None:
        if executors is None:
            from parsl.executors.threads import ThreadPoolExecutor

            executors = [ThreadPoolExecutor()]
        self._executors: List[ParslExecutor] = list(executors)
        self._validate_executors()
        if not USAGE_TRACKING_DISABLED <= usage_tracking <= USAGE_TRACKING_LEVEL_3:
            raise BadParameter("Config", "usage_tracking", usage_tracking,
                               "a level from 0 (off) to 3 (parsl.usage_tracking.levels)")
        if retries < 0:
            raise BadParameter("Config", "retries", retries, "an int >= 0")
        if internal_tasks_max_threads < 1:
            raise BadParameter("Config", "internal_tasks_max_threads",
                               internal_tasks_max_threads, "an int >= 1")
        if strategy_period <= 0:
            raise BadParameter("Config", "strategy_period", strategy_period, "a number > 0")
        if max_idletime < 0:
            raise BadParameter("Config", "max_idletime", max_idletime, "a number >= 0")
        if isinstance(checkpoint_files, str):
            raise BadParameter("Config", "checkpoint_files", checkpoint_files,
                               "a list of checkpoint directories, such as "
                               "parsl.utils.get_all_checkpoints()")
        if checkpoint_period is not None and not _PERIOD.match(checkpoint_period):
            raise BadParameter("Config", "checkpoint_period", checkpoint_period,
                               "a string 'HH:MM:SS'")
        if checkpoint_mode == "periodic" and checkpoint_period is None:
            checkpoint_period = "00:30:00"
            logger.debug("checkpoint_mode periodic without checkpoint_period: using 00:30:00")
        if checkpoint_period is not None and checkpoint_mode != "periodic":
            raise BadParameter("Config", "checkpoint_period", checkpoint_period,
                               "None unless checkpoint_mode is 'periodic' "
                               f"(checkpoint_mode is {checkpoint_mode!r})")
        if memoizer is not None and (checkpoint_files is not None
                                     or checkpoint_mode is not None):
            raise ConfigurationError(
                "Config: give checkpoint_files/checkpoint_mode either to the Config or to the "
                "memoizer, not both")
        self.app_cache = app_cache
        self.checkpoint_files = list(checkpoint_files) if checkpoint_files is not None else None
        self.checkpoint_mode = checkpoint_mode
        self.checkpoint_period = checkpoint_period
        self.dependency_resolver = dependency_resolver
        self.exit_mode = exit_mode
        self.garbage_collect = garbage_collect
        self.internal_tasks_max_threads = internal_tasks_max_threads
        self.retries = retries
        self.retry_handler = retry_handler
        self.run_dir = run_dir
        self.std_autopath = std_autopath
        self.strategy = strategy
        self.strategy_period = strategy_period
        self.max_idletime = max_idletime
        self.monitoring = monitoring
        self.usage_tracking = usage_tracking
        self.project_name = project_name
        self.initialize_logging = initialize_logging
        self.memoizer = memoizer
        self.plugins = list(plugins)
        self.log_level = log_level

    def _validate_executors(self) -> None:
        seen: Dict[str, int] = {}
        for index, executor in enumerate(self._executors):
            if not isinstance(executor, ParslExecutor):
                raise BadParameter("Config", f"executors[{index}]", executor,
                                   "a ParslExecutor instance")
            label = executor.label
            if label.startswith("_parsl"):
                raise BadParameter("Config", f"executors[{index}].label", label,
                                   "a label not starting with '_parsl' (reserved)")
            if label in seen:
                raise ConfigurationError(
                    f"Config: executors[{seen[label]}] and executors[{index}] both have "
                    f"label {label!r}; executor labels must be unique")
            seen[label] = index

    @property
    def executors(self) -> Sequence[ParslExecutor]:
        return self._executors

    @executors.setter
    def executors(self, executors: Sequence[ParslExecutor]) -> None:
        self._executors = list(executors)
        self._validate_executors()

    @classmethod
    def from_toml(cls, path: Union[str, os.PathLike[str]]) -> Config:
        """Build a Config from a TOML file naming components by their registry names."""
        from parsl.config_toml import load_toml

        config: Config = load_toml(path)
        return config

    def __repr__(self) -> str:
        return f"Config(executors={self._executors!r}, run_dir={self.run_dir!r})"
