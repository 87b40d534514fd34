"""File logging for the interchange, manager and worker processes."""
from __future__ import annotations

import logging
import os

LOG_FORMAT = ("%(asctime)s.%(msecs)03d %(name)s:%(lineno)d %(processName)s(%(process)d) "
              "%(threadName)s %(funcName)s [%(levelname)s] %(message)s")


def setup_file_logging(path: str, level: int) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to ``path``.

    These processes are Parsl's own, so configuring the root logger is theirs to do.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
