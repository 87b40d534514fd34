"""How the DFK turns ``Config.initialize_logging`` into logging for its process."""
from __future__ import annotations

import pathlib
from typing import Callable, Optional, Tuple, Union

from parsl.logconfigs.base import (
    LogConfig,
    oneshot_initialize_logging,
    oneshot_uninitialize_logging,
)


def initialize_run_logging(setting: Union[bool, LogConfig], run_dir: str,
                           level: int) -> Tuple[Optional[LogConfig],
                                                Optional[Callable[[], None]]]:
    """Set up logging for a run; return (config for executors, undo callable).

    True writes ``parsl.log`` as text at ``level`` and gives executors no configuration,
    so they keep their own logging (Parsl's behaviour); False sets up nothing; a
    LogConfig is initialized here and handed to every executor.
    """
    if setting is True:
        from parsl.logconfigs.file import FileLogging

        undo = FileLogging(level=level).initialize_logging(log_dir=pathlib.Path(run_dir),
                                                           log_name="parsl")
        return None, undo
    if setting is False:
        return None, None
    if not isinstance(setting, LogConfig):
        raise TypeError(f"Config.initialize_logging must be True, False or a "
                        f"parsl.logconfigs.LogConfig, got {setting!r}")
    log_config = setting
    oneshot_initialize_logging(log_config=log_config, log_dir=pathlib.Path(run_dir),
                               log_name="parsl")

    def undo_config() -> None:
        oneshot_uninitialize_logging(log_config=log_config)

    return log_config, undo_config
