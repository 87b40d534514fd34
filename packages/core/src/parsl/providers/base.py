"""The execution provider interface: how blocks of resources are obtained.

A provider turns a command line (the worker-pool launch command of a block-based executor)
into a running job on some resource - a local process, a batch job, a cloud instance - and
later reports the job's state and cancels it. Block-based executors call ``submit``,
``status`` and ``cancel``; the scaling strategy reads the block-size parameters.
"""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Tuple

from parsl.jobs.states import JobStatus

logger = logging.getLogger(__name__)


class ExecutionProvider(metaclass=ABCMeta):
    """Abstract base of all providers.

    Attributes a provider sets in its constructor (the strategy and executors read them):
    ``label``, ``min_blocks``, ``max_blocks``, ``init_blocks``, ``nodes_per_block``,
    ``parallelism``, ``resources`` (job id -> bookkeeping dict) and ``script_dir`` (set by
    the DFK to ``runinfo/NNN/submit_scripts`` before the first submission).
    """

    label: str = "undefined"
    min_blocks: int = 0
    max_blocks: int = 1
    init_blocks: int = 1
    nodes_per_block: int = 1
    parallelism: float = 1.0
    script_dir: Optional[str] = None
    _cores_per_node: Optional[int] = None
    _mem_per_node: Optional[float] = None

    @abstractmethod
    def submit(self, command: str, tasks_per_node: int, job_name: str = "parsl.auto") -> Any:
        """Start one block running ``command``; return its job id.

        Raise :class:`parsl.providers.errors.SubmitException` when the resource manager
        refuses the job, with its output in the message.
        """

    @abstractmethod
    def status(self, job_ids: List[Any]) -> List[JobStatus]:
        """Return the status of each of ``job_ids``, in the same order."""

    @abstractmethod
    def cancel(self, job_ids: List[Any]) -> List[bool]:
        """Cancel the given jobs; return whether each cancellation was accepted."""

    @property
    def status_polling_interval(self) -> int:
        """Seconds between status polls of this provider's blocks."""
        return 60

    @property
    def cores_per_node(self) -> Optional[int]:
        return self._cores_per_node

    @cores_per_node.setter
    def cores_per_node(self, value: Optional[int]) -> None:
        self._cores_per_node = value

    @property
    def mem_per_node(self) -> Optional[float]:
        return self._mem_per_node

    @mem_per_node.setter
    def mem_per_node(self, value: Optional[float]) -> None:
        self._mem_per_node = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} label={self.label!r}>"


def validate_block_parameters(owner: str, nodes_per_block: int, init_blocks: int,
                              min_blocks: int, max_blocks: int, parallelism: float,
                              cmd_timeout: float) -> None:
    """Check the block-size parameters every provider takes; raise BadParameter naming one.

    Provider constructors call this after their type checks, so every provider reports
    the same mistake with the same words.
    """
    from parsl.errors import BadParameter

    for name, value, lowest in (("nodes_per_block", nodes_per_block, 1),
                                ("init_blocks", init_blocks, 0),
                                ("min_blocks", min_blocks, 0),
                                ("max_blocks", max_blocks, 0)):
        if value < lowest:
            raise BadParameter(owner, name, value, f"an int >= {lowest}")
    if max_blocks < min_blocks:
        raise BadParameter(owner, "max_blocks", max_blocks,
                           f"an int >= min_blocks ({min_blocks})")
    if not 0 <= parallelism <= 1:
        raise BadParameter(owner, "parallelism", parallelism, "a number between 0 and 1")
    if cmd_timeout <= 0:
        raise BadParameter(owner, "cmd_timeout", cmd_timeout, "a number of seconds > 0")


def execute_wait(cmd: str, walltime: Optional[float] = None,
                 env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    """Run a shell command locally and return (exit code, stdout, stderr).

    A command that outlives ``walltime`` seconds is killed and reported with exit code -1 and
    a message on stderr, so a stuck scheduler command never hangs the caller.
    """
    full_env = os.environ.copy()
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(cmd, shell=True, capture_output=True, timeout=walltime,
                              env=full_env, executable="/bin/bash", check=False)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else ""
        return -1, out, f"command timed out after {walltime} s: {cmd}"
    return (proc.returncode, proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"))


def quote(text: str) -> str:
    """Shell-quote a single word for generated scripts."""
    return shlex.quote(text)
