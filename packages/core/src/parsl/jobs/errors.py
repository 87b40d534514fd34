"""Errors about blocks (batch jobs) that a block-based executor reports to its tasks."""
from __future__ import annotations

from parsl.executors.errors import BadStateException

__all__ = ["TooManyJobFailuresError"]


class TooManyJobFailuresError(BadStateException):
    """The executor gave up because its blocks keep failing.

    Raised into every outstanding task of the executor once its block error handler
    decides no block will come up. The reason lists each failed block with the message,
    exit code and output tail its provider reported, so the cause (a wrong
    ``worker_init``, a rejected submission, a walltime too short) is visible from the
    task's exception. It is a :class:`~parsl.executors.errors.BadStateException`, the
    type Parsl gives tasks of an executor in a bad state, so code catching either works.
    """
