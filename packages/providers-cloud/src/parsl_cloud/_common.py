"""Checks and helpers both cloud providers share."""
from __future__ import annotations

from typing import Optional

from parsl.errors import BadParameter
from parsl.providers.cluster_provider_common import walltime_to_seconds


def walltime_seconds(owner: str, walltime: Optional[str]) -> Optional[int]:
    """``walltime`` (``HH:MM:SS``) in seconds, or None when not given.

    Raises BadParameter naming ``owner`` and the value when it is not a positive walltime.
    """
    if walltime is None:
        return None
    try:
        seconds = walltime_to_seconds(walltime)
    except ValueError:
        raise BadParameter(owner, "walltime", walltime,
                           "a walltime of the form HH:MM:SS") from None
    if seconds <= 0:
        raise BadParameter(owner, "walltime", walltime, "a walltime longer than 00:00:00")
    return seconds


def check_api_timeout(owner: str, api_timeout: float) -> None:
    """Every API call waits at most ``api_timeout`` seconds; it must be positive."""
    if api_timeout <= 0:
        raise BadParameter(owner, "api_timeout", api_timeout, "a number of seconds > 0")


def block_of(job_name: str) -> str:
    """The ``block-N`` part of an executor's job name, for log lines, or the whole name.

    Block-based executors name jobs ``parsl.<label>.block-<N>.<time>``; logging the block
    lets a reader match a provider failure with the executor's view of it.
    """
    for part in job_name.split("."):
        if part.startswith("block-"):
            return part
    return job_name
