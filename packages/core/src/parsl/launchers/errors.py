"""Errors raised when a launcher is combined with an unsuitable provider."""
from parsl.errors import ParslError


class BadLauncher(ParslError, TypeError):
    def __init__(self, launcher: object, reason: str) -> None:
        self.launcher = launcher
        self.reason = reason
        super().__init__(f"Bad launcher {launcher!r}: {reason}")
