"""Running part of a test without the root logger's handlers.

pytest puts its capture handlers on the root logger, and the DFK writes Parsl's per-task
records while the root logger has handlers of others (parsl.dataflow.parsl_records).
Tests that must see a run without such a listener, or that submit so many tasks the
records would dominate their time, run inside :func:`without_root_handlers`.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Iterator


@contextlib.contextmanager
def without_root_handlers() -> Iterator[None]:
    """Detach the root logger's handlers for the block, then put them back."""
    saved = list(logging.root.handlers)
    logging.root.handlers.clear()
    try:
        yield
    finally:
        logging.root.handlers.extend(saved)
