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


def detached_sleep_command(state_dir: str) -> str:
    """A bash app command that starts ``sleep 300`` in a session of its own (the escape
    ``setsid`` offers), records its pid in ``state_dir/sleep.pid`` and waits for it."""
    return (f"setsid sleep 300 & echo $! > {state_dir}/sleep.pid.tmp && "
            f"mv {state_dir}/sleep.pid.tmp {state_dir}/sleep.pid; wait")


def start_detached_sleep() -> Dict[str, int]:
    """A python app that starts ``sleep 300`` in a new session and returns at once."""
    import subprocess

    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    return {"worker": os.getpid(), "sleep": proc.pid}


def start_orphaned_sleep() -> Dict[str, int]:
    """A python app whose shell backgrounds ``sleep 300`` and exits: the sleep is orphaned
    (reparented to the manager) while this worker lives on."""
    import subprocess

    out = subprocess.run("sleep 300 > /dev/null 2>&1 & echo $!", shell=True,
                         capture_output=True, text=True, check=True).stdout
    return {"worker": os.getpid(), "sleep": int(out)}


def finish_time() -> float:
    """When the task ran (wall clock), to compare execution order across tasks."""
    return time.time()


def exit_worker(code: int) -> None:
    """A task that calls sys.exit(code)."""
    import sys

    sys.exit(code)
