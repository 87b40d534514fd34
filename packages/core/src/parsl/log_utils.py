"""Logging set-up helpers with Parsl's names.

Log records about a task carry its ids as ``extra`` fields named as in
:mod:`parsl.log_context` (``task_id``, ``try_id``, ``executor``, ``executor_task_id``,
``block_id``...). :class:`ParslFormatter` appends the ones present, and the process-wide
ones, as ``key=value`` pairs, so a line can be matched to its task by a program without
parsing the free text.
"""
from __future__ import annotations

import functools
import io
import logging
import os
from typing import Callable, Optional

from parsl.log_context import format_context, format_task_events, record_context

#: Like Parsl's, a line starts with the record's time in epoch seconds, so scripts that
#: read ``float(line.split(" ")[0])`` from ``parsl.log`` (Parsl's checkpoint tests do)
#: work unchanged; the readable time and our key=value suffix follow as before.
DEFAULT_FORMAT = ("%(created)f %(asctime)s.%(msecs)03d %(name)s:%(lineno)d "
                  "%(processName)s(%(process)d) %(threadName)s %(funcName)s %(levelname)s: "
                  "%(message)s")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class ParslFormatter(logging.Formatter):
    """Adds `` key=value`` for each context id of the record (see parsl.log_context)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        tail = format_context(record_context(record))
        entries = record.__dict__.get("task_events")
        if entries is not None:
            tail += f" task_events={format_task_events(entries)}"
        if tail:
            # Keep ids on the first line, before any traceback.
            first, sep, rest = text.partition("\n")
            text = f"{first} {tail.lstrip()}{sep}{rest}"
        return text


def set_stream_logger(name: str = "parsl", level: int = logging.DEBUG,
                      format_string: Optional[str] = None,
                      stream: Optional[io.TextIOWrapper] = None) -> Callable[[], None]:
    """Add a stream handler (stderr by default) to the ``name`` logger.

    Returns the callable that detaches it again, as current Parsl does.
    """
    logger = logging.getLogger(name)
    logger.setLevel(min(level, logger.level) if logger.level else level)
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(ParslFormatter(format_string or DEFAULT_FORMAT, datefmt=DATE_FORMAT))
    logger.addHandler(handler)
    _quiet_noisy_libraries()
    return functools.partial(remove_handler, handler, name)


def set_file_logger(filename: str, name: str = "parsl", level: int = logging.DEBUG,
                    format_string: Optional[str] = None) -> Callable[[], None]:
    """Add a file handler writing to ``filename`` to the ``name`` logger.

    Returns the callable that detaches and closes it again, as current Parsl does.
    """
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    folder = os.path.dirname(filename)
    if folder:
        os.makedirs(folder, exist_ok=True)
    handler = logging.FileHandler(filename)
    handler.setLevel(level)
    handler.setFormatter(ParslFormatter(format_string or DEFAULT_FORMAT, datefmt=DATE_FORMAT))
    logger.addHandler(handler)
    _quiet_noisy_libraries()
    return functools.partial(remove_handler, handler, name)


def remove_handler(handler: logging.Handler, name: str = "parsl") -> None:
    """Detach and close a handler added by the functions above."""
    logging.getLogger(name).removeHandler(handler)
    handler.close()


def _quiet_noisy_libraries() -> None:
    for noisy in ("paramiko", "botocore", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
