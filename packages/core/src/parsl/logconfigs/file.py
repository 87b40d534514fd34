"""FileLogging: text log files, one line per record, with context ids appended."""
from __future__ import annotations

import logging
import pathlib
from typing import Callable

from parsl.logconfigs.base import LogConfig, add_handler, parsl_loggers


class FileLogging(LogConfig):
    """Write ``<log_name>.log`` in each process's log folder.

    ``format_string`` is a :mod:`logging` format; the context ids of each record
    (see :mod:`parsl.log_context`) are appended to its first line as ``key=value``.
    ``level=parsl.log_context.TASK_EVENTS`` records per-task events without DEBUG output.
    """

    def __init__(self, *, format_string: str | None = None,
                 level: int = logging.DEBUG) -> None:
        super().__init__()
        from parsl.log_utils import DEFAULT_FORMAT

        if not isinstance(level, int):
            raise TypeError(f"FileLogging: level must be a logging level (int), got {level!r}")
        self.format_string = format_string if format_string is not None else DEFAULT_FORMAT
        self.level = level

    def initialize_logging(self, *, log_dir: pathlib.Path,
                           log_name: str) -> Callable[[], None]:
        from parsl.log_utils import DATE_FORMAT, ParslFormatter

        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / f"{log_name}.log")
        handler.setFormatter(ParslFormatter(self.format_string, datefmt=DATE_FORMAT))
        return add_handler(handler, list(parsl_loggers()), self.level)

    def __repr__(self) -> str:
        return f"FileLogging(level={logging.getLevelName(self.level)!r})"
