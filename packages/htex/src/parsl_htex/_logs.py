"""Logging set-up for the interchange, manager and worker processes.

With a run-wide :class:`parsl.logconfigs.LogConfig` (``Config(initialize_logging=...)``),
the executor pickles it to a file whose path each process receives; the process loads it
and initializes it with its own log name (``interchange``, ``manager``, ``worker_N``).
Without one, each process writes ``<name>.log`` as text, at DEBUG with ``worker_debug``
and INFO otherwise. Either way the ids of :mod:`parsl.log_context` that are fixed for the
process (run, executor, block, manager, worker) are set once as process context.
"""
from __future__ import annotations

import logging
import os
import pathlib
import pickle
from typing import Any, Optional

from parsl.log_context import set_process_context
from parsl.log_utils import DATE_FORMAT, ParslFormatter

LOG_FORMAT = ("%(asctime)s.%(msecs)03d %(name)s:%(lineno)d %(processName)s(%(process)d) "
              "%(threadName)s %(funcName)s [%(levelname)s] %(message)s")


def setup_file_logging(path: str, level: int) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to ``path``.

    These processes are Parsl's own, so configuring the root logger is theirs to do.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(ParslFormatter(LOG_FORMAT, datefmt=DATE_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def load_log_config(path: Optional[str]) -> Any:
    """The LogConfig pickled at ``path`` by the executor, or None for no path."""
    if path in (None, "", "None"):
        return None
    assert path is not None
    with open(path, "rb") as f:
        return pickle.load(f)


def setup_process_logging(log_dir: str, log_name: str, log_config: Any, debug: bool,
                          **context: Any) -> None:
    """Initialize this process's logging (see the module docstring) and its context ids."""
    set_process_context(**context)
    if log_config is None:
        setup_file_logging(os.path.join(log_dir, f"{log_name}.log"),
                           logging.DEBUG if debug else logging.INFO)
        return
    from parsl.logconfigs.base import oneshot_initialize_logging

    oneshot_initialize_logging(log_config=log_config, log_dir=pathlib.Path(log_dir),
                               log_name=log_name)
