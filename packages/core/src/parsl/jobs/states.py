"""States of a block (a batch job obtained from a provider), as Parsl defines them."""
from __future__ import annotations

import enum
import os
from typing import Optional


class JobState(bytes, enum.Enum):
    """State of a block. Terminal states are those for which ``terminal`` is True."""

    def __new__(cls, value: int, terminal: bool, status_name: str) -> JobState:
        obj = bytes.__new__(cls, [value])
        obj._value_ = value
        obj.terminal = terminal
        obj.status_name = status_name
        return obj

    value: int
    terminal: bool
    status_name: str

    UNKNOWN = (0, False, "UNKNOWN")
    PENDING = (1, False, "PENDING")
    RUNNING = (2, False, "RUNNING")
    CANCELLED = (3, True, "CANCELLED")
    COMPLETED = (4, True, "COMPLETED")
    FAILED = (5, True, "FAILED")
    TIMEOUT = (6, True, "TIMEOUT")
    HELD = (7, False, "HELD")
    MISSING = (8, True, "MISSING")
    SCALED_IN = (9, True, "SCALED_IN")

    def __str__(self) -> str:
        return f"{self.__class__.__name__}.{self.name}"

    def __repr__(self) -> str:
        # Enum's default repr formats the value with bytes.__repr__, which fails for the
        # int values held here (Python 3.11+).
        return f"<{self.__class__.__name__}.{self.name}: {self._value_}>"


TERMINAL_STATES = [state for state in JobState if state.terminal]


class JobStatus:
    """A block's state with an optional message, exit code and paths to its output.

    ``stdout``/``stderr`` read the tail of the job's output files so error reports can
    quote what the batch system printed.
    """

    SUMMARY_TRUNCATION_THRESHOLD = 2048

    __slots__ = ("exit_code", "message", "state", "stderr_path", "stdout_path")

    def __init__(self, state: JobState, message: Optional[str] = None,
                 exit_code: Optional[int] = None, stdout_path: Optional[str] = None,
                 stderr_path: Optional[str] = None) -> None:
        self.state = state
        self.message = message
        self.exit_code = exit_code
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path

    def __repr__(self) -> str:
        parts = [f"<{type(self).__module__}.{type(self).__qualname__} object at "
                 f"{id(self):#x}, state={self.state}"]
        if self.message is not None:
            parts.append(f" message={self.message}")
        if self.exit_code is not None:
            parts.append(f" exit_code={self.exit_code}")
        return "".join(parts) + ">"

    def __str__(self) -> str:
        return f"{self.state} ({self.message})" if self.message is not None else \
            str(self.state)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, JobStatus) and self.state == other.state
                and self.message == other.message and self.exit_code == other.exit_code)

    __hash__ = None  # type: ignore[assignment]

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def status_name(self) -> str:
        return self.state.status_name

    @property
    def stdout(self) -> Optional[str]:
        return self._read_file(self.stdout_path)

    @property
    def stderr(self) -> Optional[str]:
        return self._read_file(self.stderr_path)

    def _read_file(self, path: Optional[str]) -> Optional[str]:
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - self.SUMMARY_TRUNCATION_THRESHOLD))
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return None

    @property
    def stdout_summary(self) -> Optional[str]:
        return self.stdout

    @property
    def stderr_summary(self) -> Optional[str]:
        return self.stderr
