"""Numbered run directories: runinfo/000, runinfo/001, ..."""
from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)


def make_rundir(path: str) -> str:
    """Create and return the next free ``path/NNN`` directory.

    Safe against concurrent runs sharing ``path``: a number another process took between
    listing and creating is skipped.
    """
    os.makedirs(path, exist_ok=True)
    existing = [int(name) for name in os.listdir(path) if name.isdigit()]
    number = max(existing) + 1 if existing else 0
    while True:
        candidate = os.path.join(path, f"{number:03d}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            number += 1
            continue
        logger.debug("Parsl run directory is %s", candidate)
        return os.path.abspath(candidate)
