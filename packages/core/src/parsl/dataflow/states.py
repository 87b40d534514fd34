"""Task states, with Parsl's names and numeric values (monitoring databases store them)."""
from __future__ import annotations

from enum import IntEnum


class States(IntEnum):
    """The life of a task.

    ``unsched`` -> ``pending`` (waiting for dependencies) -> ``launched`` (given to an
    executor) -> ``running`` -> ``running_ended`` -> ``exec_done``; or ``failed`` /
    ``dep_fail`` (a dependency failed) / ``memo_done`` (result taken from the memo table);
    ``joining`` while a join app waits for the futures it returned; ``fail_retryable``
    between a failed try and the next one.
    """

    unsched = -1
    pending = 0
    running = 2
    exec_done = 3
    failed = 4
    dep_fail = 5
    launched = 7
    fail_retryable = 8
    memo_done = 9
    joining = 10
    running_ended = 11

    def __str__(self) -> str:
        return f"{self.__class__.__name__}.{self.name}"


FINAL_STATES = frozenset({States.exec_done, States.memo_done, States.failed, States.dep_fail})
"""States a task never leaves."""

FINAL_FAILURE_STATES = frozenset({States.failed, States.dep_fail})
"""Final states that mean the task's future holds an exception."""
