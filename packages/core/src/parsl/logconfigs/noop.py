"""NoopLogging: a configuration that sets up no logging at all."""
from __future__ import annotations

import pathlib
from typing import Callable

from parsl.logconfigs.base import LogConfig


def _nothing() -> None:
    return None


class NoopLogging(LogConfig):
    """Configure no logging in any process (for benchmarks, or to leave it to the user)."""

    def initialize_logging(self, *, log_dir: pathlib.Path,
                           log_name: str) -> Callable[[], None]:
        return _nothing

    def __repr__(self) -> str:
        return "NoopLogging()"
