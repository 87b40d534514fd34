"""Plain functions the tests turn into apps; workers import this module by name (the
test configs put this folder on the workers' PYTHONPATH)."""
from __future__ import annotations

import time


def square(x: int) -> int:
    return x * x


def busy(seconds: float) -> float:
    """Burn CPU for ``seconds`` (so resource samples see CPU use)."""
    end = time.monotonic() + seconds
    n = 0.0
    while time.monotonic() < end:
        n += 1
    return n


def explode(message: str) -> None:
    raise RuntimeError(message)


def noop() -> None:
    return None


def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
