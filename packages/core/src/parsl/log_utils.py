"""Logging set-up helpers with Parsl's names.

Log records about a task carry its ids as ``extra`` fields (``task_id``, ``try_id``,
``executor``, ``block_id``, ``htex_task_id``). :class:`ParslFormatter` appends the ones
present as ``key=value`` pairs, so a line can be matched to its task by a program
without parsing the free text.
"""
from __future__ import annotations

import io
import logging
import os
from typing import Optional

DEFAULT_FORMAT = ("%(asctime)s.%(msecs)03d %(name)s:%(lineno)d %(processName)s(%(process)d) "
                  "%(threadName)s %(funcName)s %(levelname)s: %(message)s")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
STRUCTURED_FIELDS = ("task_id", "try_id", "htex_task_id", "executor", "block_id", "manager")


class ParslFormatter(logging.Formatter):
    """Adds `` key=value`` for each structured id attached to the record."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [f"{name}={getattr(record, name)}" for name in STRUCTURED_FIELDS
                  if hasattr(record, name)]
        if extras:
            # Keep ids on the first line, before any traceback.
            first, sep, rest = text.partition("\n")
            text = f"{first} {' '.join(extras)}{sep}{rest}"
        return text


def set_stream_logger(name: str = "parsl", level: int = logging.DEBUG,
                      format_string: Optional[str] = None,
                      stream: Optional[io.TextIOWrapper] = None) -> logging.Logger:
    """Add a stream handler (stderr by default) to the ``name`` logger and return it."""
    logger = logging.getLogger(name)
    logger.setLevel(min(level, logger.level) if logger.level else level)
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(ParslFormatter(format_string or DEFAULT_FORMAT, datefmt=DATE_FORMAT))
    logger.addHandler(handler)
    _quiet_noisy_libraries()
    return logger


def set_file_logger(filename: str, name: str = "parsl", level: int = logging.DEBUG,
                    format_string: Optional[str] = None) -> logging.Handler:
    """Add a file handler writing to ``filename`` to the ``name`` logger; return it."""
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
    return handler


def remove_handler(handler: logging.Handler, name: str = "parsl") -> None:
    """Detach and close a handler added by the functions above."""
    logging.getLogger(name).removeHandler(handler)
    handler.close()


def _quiet_noisy_libraries() -> None:
    for noisy in ("paramiko", "botocore", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
