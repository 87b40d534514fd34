"""LocalProvider: blocks are process groups on the machine running the workflow.

Each block is a bash script in ``script_dir`` (``<job_name>.sh``: ``worker_init``, then the
launcher-wrapped command) started in a session and process group of its own, with output
in ``<job_name>.stdout`` and ``<job_name>.stderr``. Owning the process group lets
``cancel`` stop everything the block started, including grandchildren, so a workflow
never leaves worker processes behind. The script's exit status is recorded in
``<job_name>.ec`` when the provider sees it finish, next to its output, for debugging.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Union

import psutil

from parsl._validation import validate_init
from parsl.jobs.states import JobState, JobStatus
from parsl.launchers.base import Launcher, launch_command
from parsl.launchers.launchers import SingleNodeLauncher
from parsl.providers.base import ExecutionProvider, validate_block_parameters
from parsl.providers.cluster_provider_common import job_files, write_submit_script
from parsl.providers.errors import SubmitException

logger = logging.getLogger(__name__)

__all__ = ["LocalProvider"]


class _LocalJob:
    """Bookkeeping for one block: its process, files and what has been observed of it."""

    __slots__ = ("cancelled", "files", "job_name", "proc", "status")

    def __init__(self, job_name: str, proc: subprocess.Popen[bytes], files: Any) -> None:
        self.job_name = job_name
        self.proc = proc
        self.files = files
        self.cancelled = False
        self.status = JobStatus(JobState.RUNNING, stdout_path=files.stdout,
                                stderr_path=files.stderr)


class LocalProvider(ExecutionProvider):
    """Run blocks as local processes, with Parsl's parameters.

    Parameters
    ----------
    nodes_per_block:
        Nodes per block; on one machine this only multiplies the copies the launcher starts.
    launcher:
        Wraps the command into the block script; ``None`` means ``SingleNodeLauncher()``.
    init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy.
    worker_init:
        Shell commands run at the start of every block (activate an environment, ...).
    cmd_timeout:
        Upper bound, in seconds, on how long ``cancel`` waits for a block to stop after
        SIGTERM before using SIGKILL (submission runs no external command to time out).
    """

    #: Longest ``cancel`` waits between SIGTERM and SIGKILL (further bounded by cmd_timeout).
    cancel_grace_period: float = 5.0

    @validate_init
    def __init__(
            self, nodes_per_block: int = 1, launcher: Optional[Launcher] = None,
            init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1,
            worker_init: str = "", cmd_timeout: Union[int, float] = 30,
            parallelism: Union[int, float] = 1) -> None:
        validate_block_parameters(type(self).__name__, nodes_per_block, init_blocks,
                                  min_blocks, max_blocks, parallelism, cmd_timeout)
        self.label = "local"
        self.nodes_per_block = nodes_per_block
        self.launcher: Launcher = launcher if launcher is not None else SingleNodeLauncher()
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.worker_init = worker_init
        self.cmd_timeout = cmd_timeout
        self.parallelism = parallelism
        self.script_dir: Optional[str] = None
        self.resources: Dict[str, Dict[str, Any]] = {}
        self._jobs: Dict[str, _LocalJob] = {}
        self._lock = threading.Lock()

    @property
    def status_polling_interval(self) -> int:
        return 5

    def _ensure_script_dir(self) -> str:
        if self.script_dir is None:
            self.script_dir = tempfile.mkdtemp(prefix="parsl-localprovider-")
            logger.info("LocalProvider has no script_dir (none set by a DFK); writing block "
                        "scripts and output to %s", self.script_dir)
        return self.script_dir

    def submit(self, command: str, tasks_per_node: int, job_name: str = "parsl.localprovider"
               ) -> str:
        """Start one block running ``command``; return its job id (its process group id).

        Raises :class:`SubmitException` when the script cannot be written or started.
        """
        script_dir = self._ensure_script_dir()
        wrapped = launch_command(self.launcher, command, tasks_per_node, self.nodes_per_block,
                                 script_dir)
        script = ("#!/bin/bash\n"
                  f"# Parsl LocalProvider block {job_name}\n"
                  f"{self.worker_init}\n"
                  f"{wrapped}\n")
        with self._lock:
            files = job_files(script_dir, job_name)
            try:
                write_submit_script(files.script, script)
            except OSError as e:
                raise SubmitException(job_name, f"could not write {files.script}: {e}") from e
            try:
                with open(files.stdout, "wb") as out, open(files.stderr, "wb") as err:
                    proc = subprocess.Popen(["/bin/bash", files.script], stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, close_fds=True,
                                            start_new_session=True)
            except OSError as e:
                logger.error("Could not start block %s (%s): %s", job_name, files.script, e)
                raise SubmitException(job_name, f"could not start {files.script}: {e}") from e
            job_id = str(proc.pid)
            reuse = 0
            while job_id in self._jobs:
                # The pid of a finished, reaped block was reused: job ids must stay unique.
                reuse += 1
                job_id = f"{proc.pid}.{reuse}"
            job = _LocalJob(job_name, proc, files)
            self._jobs[job_id] = job
            self.resources[job_id] = {"job_id": job_id, "job_name": job_name,
                                      "status": job.status, "script_path": files.script,
                                      "stdout_path": files.stdout, "stderr_path": files.stderr}
        logger.info("Started block %s as process group %s (script %s)", job_name, job_id,
                    files.script, extra={"job_id": job_id})
        return job_id

    def status(self, job_ids: List[Any]) -> List[JobStatus]:
        """Report each job's state: RUNNING while its script runs, then COMPLETED (exit 0),
        FAILED (with exit code and output paths), CANCELLED, or MISSING for unknown ids."""
        statuses = []
        with self._lock:
            for job_id in job_ids:
                job = self._jobs.get(str(job_id))
                if job is None:
                    statuses.append(JobStatus(JobState.MISSING,
                                              f"LocalProvider knows no job {job_id!r}"))
                    continue
                if not job.status.terminal:
                    self._refresh(str(job_id), job)
                statuses.append(job.status)
        return statuses

    def _refresh(self, job_id: str, job: _LocalJob) -> None:
        code = job.proc.poll()
        if code is None and not job.cancelled:
            return
        files = job.files
        if job.cancelled:
            job.status = JobStatus(JobState.CANCELLED, "cancelled by the provider",
                                   exit_code=code, stdout_path=files.stdout,
                                   stderr_path=files.stderr)
        elif code == 0:
            job.status = JobStatus(JobState.COMPLETED, exit_code=0, stdout_path=files.stdout,
                                   stderr_path=files.stderr)
        else:
            assert code is not None
            if code < 0:
                message = (f"block script {files.script} was killed by signal "
                           f"{_signal_name(-code)}")
            else:
                message = f"block script {files.script} exited with code {code}"
            job.status = JobStatus(JobState.FAILED, message, exit_code=code,
                                   stdout_path=files.stdout, stderr_path=files.stderr)
        self.resources[job_id]["status"] = job.status
        if code is not None:
            self._record_exit_code(files.script, code)
            if not job.cancelled:
                self._stop_leftovers(job_id, job.proc.pid)
        logger.debug("Block %s (job %s) is now %s", job.job_name, job_id, job.status)

    @staticmethod
    def _record_exit_code(script: str, code: int) -> None:
        path = script[: -len(".sh")] + ".ec" if script.endswith(".sh") else script + ".ec"
        try:
            with open(path, "w", encoding="ascii") as f:
                f.write(f"{code}\n")
        except OSError as e:
            logger.warning("Could not record exit code of %s in %s: %s", script, path, e)

    @staticmethod
    def _stop_leftovers(job_id: str, pgid: int) -> None:
        """Terminate processes a finished block script left running in its group."""
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return
        except PermissionError as e:
            logger.warning("Could not stop leftover processes of job %s: %s", job_id, e)
            return
        logger.info("Job %s exited but left processes in its group; sent them SIGTERM", job_id)

    def cancel(self, job_ids: List[Any]) -> List[bool]:
        """Stop each job's whole process group: SIGTERM, then SIGKILL after a bounded grace.

        Returns True for every job that is now stopped (including ones that had already
        finished), False for unknown ids.
        """
        results: List[bool] = []
        to_wait: List[_LocalJob] = []
        with self._lock:
            for job_id in job_ids:
                job = self._jobs.get(str(job_id))
                if job is None:
                    logger.warning("Asked to cancel unknown job %r", job_id)
                    results.append(False)
                    continue
                results.append(True)
                if job.status.terminal:
                    continue
                job.cancelled = True
                logger.info("Cancelling block %s (job %s)", job.job_name, job_id,
                            extra={"job_id": job_id})
                if _signal_group(job.proc.pid, signal.SIGTERM):
                    to_wait.append(job)
        grace = min(self.cancel_grace_period, float(self.cmd_timeout))
        deadline = time.monotonic() + grace
        for job in to_wait:
            while _group_alive(job.proc) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _group_alive(job.proc):
                logger.warning("Block %s did not stop within %.1f s of SIGTERM; sending SIGKILL",
                               job.job_name, grace)
                _signal_group(job.proc.pid, signal.SIGKILL)
                # SIGKILL is delivered asynchronously: wait (bounded) until every member
                # of the group, not only the script, has died.
                killed_by = time.monotonic() + grace
                while _group_alive(job.proc) and time.monotonic() < killed_by:
                    time.sleep(0.02)
                if _group_alive(job.proc):
                    logger.error("Block %s (pid %d) survived SIGKILL for %.1f s", job.job_name,
                                 job.proc.pid, grace)
        with self._lock:
            for job_id in job_ids:
                job = self._jobs.get(str(job_id))
                if job is not None and not job.status.terminal:
                    self._refresh(str(job_id), job)
        return results


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the block's script or any non-zombie process of its group still runs."""
    if proc.poll() is None:
        return True
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.pid) == proc.pid and p.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
