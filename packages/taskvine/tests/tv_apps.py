"""Apps the tests run on real workers; workers import this module by name (PYTHONPATH)."""
from __future__ import annotations

import os
import time
from typing import Any, List

from parsl import bash_app, join_app, python_app


@python_app
def double(x: int, parsl_resource_specification: Any = None) -> int:
    return 2 * x


@python_app
def where_am_i(parsl_resource_specification: Any = None) -> str:
    """The working directory of the task: a worker sandbox unless shared_fs."""
    return os.getcwd()


@python_app
def fail_with(message: str, parsl_resource_specification: Any = None) -> None:
    raise KeyError(message)


@python_app
def count_lines(inputs: List[Any] = (), outputs: List[Any] = ()) -> int:
    total = 0
    for f in inputs:
        with open(f.filepath) as src:
            total += len(src.readlines())
    with open(outputs[0].filepath, "w") as dst:
        dst.write(f"{total}\n")
    return total


@bash_app
def echo_to(text: str, stdout: Any = None, stderr: Any = None) -> str:
    return f"echo {text}"


@bash_app
def exit_with(code: int) -> str:
    return f"exit {code}"


@join_app
def double_twice(x: int) -> Any:
    return double(double(x).result())


@python_app
def allocate_mb(mb: int, hold: float = 10, parsl_resource_specification: Any = None) -> int:
    """Hold ``mb`` MB of touched memory for ``hold`` seconds (long enough for the resource
    monitor's samples to see it)."""
    block = bytearray(mb * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(hold)
    return len(block)


@python_app
def slow_then_value(marker: str, seconds: float) -> int:
    """First attempt: mark the file and sleep; a retry finds the mark and returns at once."""
    attempts = 1
    if os.path.exists(marker):
        with open(marker) as f:
            attempts = int(f.read()) + 1
    with open(marker, "w") as f:
        f.write(str(attempts))
    if attempts == 1:
        time.sleep(seconds)
    return attempts


@python_app
def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@python_app
def slurm_job_id() -> str:
    return os.environ.get("SLURM_JOB_ID", "")


@python_app
def pid_and_parent(parsl_resource_specification: Any = None) -> Any:
    """This process's pid and command line (which process ran the task)."""
    with open("/proc/self/cmdline", "rb") as f:
        command = f.read().replace(b"\0", b" ").decode()
    return os.getpid(), command


@python_app
def write_mb(mb: int, hold: float = 3) -> int:
    """Keep an ``mb`` MB file in the task's sandbox for ``hold`` seconds (long enough for
    the resource monitor to measure it)."""
    with open("ballast", "wb") as f:
        f.write(b"\0" * (mb * 2**20))
    time.sleep(hold)
    return mb
