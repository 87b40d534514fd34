"""Task functions for the tests, importable by name in worker processes.

The test fixtures put this folder on the workers' PYTHONPATH (LocalProvider worker_init),
so these travel by reference like functions of any installed module.
"""
from __future__ import annotations

import os
import signal
import time
from typing import Any, Dict, Iterator


def add(a: int, b: int) -> int:
    return a + b


def fail_with_key_error() -> None:
    raise KeyError("missing-thing")


def worker_environment() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(("PARSL_", "CUDA_"))}


def returns_generator() -> Iterator[int]:
    return (i for i in range(3))


def sleep_then_return(seconds: float, value: Any = None) -> Any:
    time.sleep(seconds)
    return value


def kill_own_worker() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def worker_pid() -> int:
    return os.getpid()
