"""Bounded polling and free ports for every package's tests (on pytest's pythonpath).

Tests wait for something another process does by polling a condition with a deadline,
never by sleeping a fixed time; one helper keeps the message on timeout the same
everywhere.
"""
from __future__ import annotations

import socket
import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], Optional[T]], timeout: float = 30,
             what: str = "condition", interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy and return that value.

    Raises AssertionError naming ``what`` once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the caller binds it soon after)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
