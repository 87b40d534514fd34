"""Plain functions defined in a module other than the tests, to apply app decorators to."""
from __future__ import annotations

from typing import Any


def add(a: int, b: int = 0) -> int:
    return a + b


def fail_with(message: str) -> None:
    raise ValueError(message)


class Multiplier:
    """A callable object: apps may wrap instances with __call__."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __call__(self, x: int) -> int:
        return x * self.factor


def make_record(**fields: Any) -> dict:
    return dict(fields)
