"""Functions the cross-package tests run on HTEX workers; importable there by name."""
from __future__ import annotations


def deep_failure(depth: int) -> None:
    """Raise from a few frames down, so the remote traceback has recognisable lines."""
    if depth == 0:
        raise FileNotFoundError("input.dat is missing on the worker")
    deep_failure(depth - 1)


def echo(value: object) -> object:
    return value
