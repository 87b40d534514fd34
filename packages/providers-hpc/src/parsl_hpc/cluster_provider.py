"""The shared machinery of batch-scheduler providers (Slurm, PBS Pro, Torque, LSF, ...).

Every batch scheduler is driven the same way: render a job script from a template into
``<script_dir>/<job_name>.submit``, hand it to a submit command, find the job id in what
that command printed, poll a status command and translate its states into
:class:`~parsl.jobs.states.JobState`, and cancel with a third command. A subclass supplies
only the scheduler-specific parts (template, command lines, output parsing, state table);
this module owns the parts that must behave identically everywhere:

* every command runs through the provider's channel with ``cmd_timeout`` as its bound;
* a missing command, a timeout, a non-zero exit or output with no job id raises
  :class:`~parsl.providers.errors.SubmitException` naming the command, exit code and
  stderr, and logs the same;
* a status command that fails, or prints something unparsable, turns the affected jobs
  into ``UNKNOWN`` (non-terminal, with a message) rather than crashing or guessing;
* a scheduler state nobody mapped is logged and becomes ``UNKNOWN``.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import string
import tempfile
import threading
import time
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from parsl.errors import BadParameter
from parsl.jobs.states import JobState, JobStatus
from parsl.launchers.base import Launcher, launch_command
from parsl.providers.base import ExecutionProvider, validate_block_parameters
from parsl.providers.cluster_provider_common import (
    job_files,
    walltime_to_seconds,
    write_submit_script,
)
from parsl.providers.errors import SchedulerMissingArgs, SubmitException
from parsl_hpc.channels import TIMEOUT_EXIT_CODE, Channel, LocalChannel

logger = logging.getLogger(__name__)


def quote_all(words: Iterable[str]) -> str:
    """``words`` shell-quoted and space-separated, for job ids and paths in commands."""
    return " ".join(shlex.quote(str(w)) for w in words)

__all__ = ["ClusterProvider", "JobSpec", "ParsedStatus", "translate_state"]

#: Exit status bash uses for "command not found".
_COMMAND_NOT_FOUND = 127


class JobSpec(NamedTuple):
    """Everything known about one block when its script is rendered and submitted.

    ``script_path`` is the local script; ``remote_script_path``, ``stdout_path`` and
    ``stderr_path`` are paths on the host that runs the scheduler commands (the same as the
    local ones for a local channel).
    """

    job_name: str
    script_path: str
    remote_script_path: str
    stdout_path: str
    stderr_path: str
    tasks_per_node: int
    command: str


class ParsedStatus(NamedTuple):
    """One job's state as read from a status command: translated state and raw text."""

    state: JobState
    raw: str
    message: Optional[str] = None
    exit_code: Optional[int] = None


def translate_state(raw: str, table: Mapping[str, JobState], scheduler: str,
                    job_id: str) -> JobState:
    """Translate a scheduler state with ``table``; log and return UNKNOWN for unmapped ones.

    Schedulers add states between releases; an unmapped one must never crash a run, and
    the log line tells a maintainer what to add to the table.
    """
    state = table.get(raw)
    if state is None:
        logger.warning("%s reported state %r for job %s, which Parsl does not know; "
                       "treating it as UNKNOWN", scheduler, raw, job_id)
        return JobState.UNKNOWN
    return state


class ClusterProvider(ExecutionProvider):
    """Base of providers that submit job scripts to a batch scheduler.

    Subclasses set ``_template`` (a :class:`string.Template` text) and implement
    :meth:`_submit_command`, :meth:`_parse_job_id`, :meth:`_status_command`,
    :meth:`_parse_status` and :meth:`_cancel_command`; they may extend
    :meth:`_template_values` with their own ``#DIRECTIVE`` lines.

    ``resources`` maps each job id to a dict with ``job_id``, ``job_name``, ``status``,
    ``job_stdout_path``, ``job_stderr_path`` and ``script_path``.
    """

    _template: str = ""
    #: Human name of the scheduler, for messages.
    _scheduler: str = "batch scheduler"
    #: State given to a job the status command no longer lists. Most schedulers forget
    #: finished jobs after a while, so a vanished job is taken to have completed.
    _missing_job_state: JobState = JobState.COMPLETED
    _script_suffix: str = ".submit"

    def __init__(self, label: str, channel: Optional[Channel], nodes_per_block: int,
                 init_blocks: int, min_blocks: int, max_blocks: int, parallelism: float,
                 walltime: str, launcher: Launcher, cmd_timeout: float,
                 worker_init: str = "", move_files: bool = True) -> None:
        owner = type(self).__name__
        validate_block_parameters(owner, nodes_per_block, init_blocks, min_blocks, max_blocks,
                                  parallelism, cmd_timeout)
        try:
            walltime_to_seconds(walltime)
        except ValueError:
            raise BadParameter(owner, "walltime", walltime,
                               "a walltime of the form HH:MM:SS") from None
        self.label = label
        self.channel: Channel = channel if channel is not None else LocalChannel()
        self.nodes_per_block = nodes_per_block
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.parallelism = parallelism
        self.walltime = walltime
        self.launcher = launcher
        self.cmd_timeout = cmd_timeout
        self.worker_init = worker_init
        self.move_files = move_files
        self.script_dir: Optional[str] = None
        self.resources: Dict[str, Dict[str, Any]] = {}
        self._status_polling_interval = 60
        self._lock = threading.Lock()

    # -- properties -----------------------------------------------------------------

    @property
    def status_polling_interval(self) -> int:
        """Seconds between status polls; schedulers dislike being polled more often."""
        return self._status_polling_interval

    @status_polling_interval.setter
    def status_polling_interval(self, seconds: int) -> None:
        self._status_polling_interval = seconds

    @property
    def walltime_seconds(self) -> int:
        return walltime_to_seconds(self.walltime)

    # -- running commands -----------------------------------------------------------

    def execute_wait(self, cmd: str, timeout: Optional[float] = None) -> Tuple[int, str, str]:
        """Run ``cmd`` through the channel, bounded by ``timeout`` or ``cmd_timeout``."""
        bound = self.cmd_timeout if timeout is None else timeout
        return self.channel.execute_wait(cmd, bound)

    def _describe_failure(self, cmd: str, code: int, stderr: str) -> str:
        """Say why ``cmd`` failed in words a user can act on."""
        program = cmd.split(maxsplit=1)[0] if cmd.split() else cmd
        host = self.channel.hostname
        if code == TIMEOUT_EXIT_CODE:
            return (f"{program} did not finish within cmd_timeout={self.cmd_timeout} s "
                    f"on {host} (command: {cmd})")
        if code == _COMMAND_NOT_FOUND and "not found" in stderr:
            return (f"{program} was not found on PATH on {host}: is the {self._scheduler} "
                    f"client installed there? (command: {cmd})")
        return f"{cmd} failed on {host} with exit code {code}: {stderr.strip()}"

    # -- submission ------------------------------------------------------------------

    def _ensure_script_dir(self) -> str:
        if self.script_dir is None:
            self.script_dir = tempfile.mkdtemp(prefix=f"parsl-{self.label}-")
            logger.info("%s has no script_dir (none set by a DFK); writing submit scripts "
                        "to %s", type(self).__name__, self.script_dir)
        os.makedirs(self.script_dir, exist_ok=True)
        return os.path.abspath(self.script_dir)

    def _remote_dir(self, local_dir: str) -> str:
        """Folder on the channel's host that receives submit scripts and job output."""
        if self.channel.script_dir:
            return self.channel.script_dir
        return local_dir

    def _job_spec(self, command: str, tasks_per_node: int, job_name: str) -> JobSpec:
        local_dir = self._ensure_script_dir()
        files = job_files(local_dir, f"{job_name}.{time.time():.6f}", self._script_suffix)
        base = os.path.basename(files.script)[: -len(self._script_suffix)]
        if self.move_files:
            remote_dir = self._remote_dir(local_dir)
        else:
            remote_dir = local_dir
        remote_prefix = remote_dir.rstrip("/") + "/" + base
        return JobSpec(job_name=base, script_path=files.script,
                       remote_script_path=remote_prefix + self._script_suffix,
                       stdout_path=remote_prefix + ".stdout",
                       stderr_path=remote_prefix + ".stderr",
                       tasks_per_node=tasks_per_node,
                       command=launch_command(self.launcher, command, tasks_per_node,
                                              self.nodes_per_block, remote_dir))

    def _template_values(self, job: JobSpec) -> Dict[str, Any]:
        """Values substituted into ``_template``; subclasses add their directives."""
        return {
            "jobname": job.job_name,
            "nodes": self.nodes_per_block,
            "nodes_per_block": self.nodes_per_block,
            "tasks_per_node": job.tasks_per_node,
            "walltime": self.walltime,
            "submit_script_dir": os.path.dirname(job.remote_script_path),
            "job_stdout_path": job.stdout_path,
            "job_stderr_path": job.stderr_path,
            "scheduler_options": getattr(self, "scheduler_options", ""),
            "worker_init": self.worker_init,
            "user_script": job.command,
        }

    def _render(self, template: str, values: Mapping[str, Any]) -> str:
        try:
            return string.Template(template).substitute(values)
        except KeyError as e:
            raise SchedulerMissingArgs([str(e.args[0])], type(self).__name__) from e

    def _write_scripts(self, job: JobSpec) -> None:
        """Write the job's script(s) locally; subclasses with two files extend this."""
        write_submit_script(job.script_path, self._render(self._template,
                                                          self._template_values(job)))

    def _push(self, local_path: str, remote_path: str) -> str:
        """Copy a script to the channel's host when that is another machine or folder."""
        if not self.move_files:
            return local_path
        if self.channel.is_local and os.path.abspath(local_path) == os.path.abspath(remote_path):
            return local_path
        return self.channel.push_file(local_path, os.path.dirname(remote_path))

    def submit(self, command: str, tasks_per_node: int, job_name: str = "parsl.auto") -> str:
        """Render, push and submit one block; return the scheduler's job id.

        Raises SubmitException naming the submit command, its exit code and stderr when
        the scheduler refuses the job, the command is missing or exceeds ``cmd_timeout``,
        or its output holds no job id.
        """
        if job_name == "parsl.auto":
            job_name = f"parsl.{self.label}"
        job = self._job_spec(command, tasks_per_node, job_name)
        self._write_scripts(job)
        target = self._push_scripts(job)
        cmd = self._submit_command(target, job)
        logger.debug("Submitting block %s with: %s", job.job_name, cmd)
        code, stdout, stderr = self.execute_wait(cmd)
        if code != 0:
            reason = self._describe_failure(cmd, code, stderr)
            logger.error("Submitting %s failed: %s; stdout: %s", job.job_name, reason,
                         stdout.strip())
            raise SubmitException(job.job_name, reason, stdout=stdout, stderr=stderr,
                                  retcode=code)
        job_id = self._parse_job_id(stdout, stderr)
        if not job_id:
            reason = (f"could not find a job id in the output of {cmd} on "
                      f"{self.channel.hostname}")
            logger.error("Submitting %s: %s; stdout: %r; stderr: %r", job.job_name, reason,
                         stdout, stderr)
            raise SubmitException(job.job_name, reason, stdout=stdout, stderr=stderr,
                                  retcode=code)
        local_output = self.channel.is_local
        with self._lock:
            self.resources[job_id] = {
                "job_id": job_id,
                "job_name": job.job_name,
                "script_path": job.script_path,
                "status": JobStatus(JobState.PENDING,
                                    stdout_path=job.stdout_path if local_output else None,
                                    stderr_path=job.stderr_path if local_output else None),
                "job_stdout_path": job.stdout_path,
                "job_stderr_path": job.stderr_path,
            }
        logger.info("Submitted block %s as %s job %s", job.job_name, self._scheduler, job_id)
        return job_id

    def _push_scripts(self, job: JobSpec) -> str:
        """Push what the submit command needs; return the path to hand to it."""
        return self._push(job.script_path, job.remote_script_path)

    # -- status -----------------------------------------------------------------------

    def status(self, job_ids: List[Any]) -> List[JobStatus]:
        """Return each job's status, polling the scheduler for those not yet finished."""
        ids = [str(j) for j in job_ids]
        with self._lock:
            active = [j for j in ids if j in self.resources
                      and not self.resources[j]["status"].terminal]
        if active:
            self._refresh(active)
        result = []
        with self._lock:
            for j in ids:
                entry = self.resources.get(j)
                if entry is None:
                    result.append(JobStatus(JobState.UNKNOWN,
                                            message=f"job {j} was not submitted by this "
                                                    "provider"))
                else:
                    result.append(entry["status"])
        return result

    def _refresh(self, job_ids: List[str]) -> None:
        cmd = self._status_command(job_ids)
        code, stdout, stderr = self.execute_wait(cmd)
        if code != 0 and not self._status_failure_means_gone(code, stdout, stderr):
            reason = self._describe_failure(cmd, code, stderr)
            logger.warning("Status poll of jobs %s failed: %s", job_ids, reason)
            self._set_all(job_ids, JobState.UNKNOWN, f"status unknown: {reason}")
            return
        try:
            parsed, complete = self._parse_status(stdout, job_ids)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            logger.warning("Could not parse the output of %s (%s): %r", cmd, e, stdout)
            self._set_all(job_ids, JobState.UNKNOWN,
                          f"status unknown: unparsable output of {cmd}: {e}")
            return
        with self._lock:
            for job_id in job_ids:
                entry = self.resources[job_id]
                found = parsed.get(job_id)
                if found is not None:
                    logger.debug("%s job %s is %s (%s)", self._scheduler, job_id,
                                 found.state.name, found.raw)
                    entry["status"] = self._job_status(entry, found.state, found.message,
                                                       found.exit_code)
                elif complete:
                    logger.debug("%s job %s is no longer listed; taking it as %s",
                                 self._scheduler, job_id, self._missing_job_state.name)
                    entry["status"] = self._job_status(
                        entry, self._missing_job_state,
                        f"job is no longer listed by {self._scheduler}", None)
                else:
                    logger.warning("Output of %s did not mention job %s and was not fully "
                                   "understood; its state is UNKNOWN", cmd, job_id)
                    entry["status"] = self._job_status(
                        entry, JobState.UNKNOWN,
                        f"status unknown: {cmd} output not understood", None)

    def _set_all(self, job_ids: List[str], state: JobState, message: str) -> None:
        with self._lock:
            for job_id in job_ids:
                entry = self.resources[job_id]
                entry["status"] = self._job_status(entry, state, message, None)

    def _job_status(self, entry: Mapping[str, Any], state: JobState, message: Optional[str],
                    exit_code: Optional[int]) -> JobStatus:
        local = self.channel.is_local
        return JobStatus(state, message=message, exit_code=exit_code,
                         stdout_path=entry["job_stdout_path"] if local else None,
                         stderr_path=entry["job_stderr_path"] if local else None)

    def _status_failure_means_gone(self, code: int, stdout: str, stderr: str) -> bool:
        """Whether a failed status command only says the jobs are no longer known."""
        return False

    # -- cancel -----------------------------------------------------------------------

    def cancel(self, job_ids: List[Any]) -> List[bool]:
        """Cancel jobs; on success mark them CANCELLED. A failure is logged, not raised."""
        ids = [str(j) for j in job_ids]
        if not ids:
            return []
        cmd = self._cancel_command(ids)
        code, _stdout, stderr = self.execute_wait(cmd)
        if code != 0:
            logger.error("Cancelling jobs %s failed: %s", ids,
                         self._describe_failure(cmd, code, stderr))
            return [False] * len(ids)
        with self._lock:
            for job_id in ids:
                entry = self.resources.get(job_id)
                if entry is not None:
                    entry["status"] = self._job_status(entry, JobState.CANCELLED,
                                                       "cancelled by Parsl", None)
        logger.info("Cancelled %s jobs %s", self._scheduler, ids)
        return [True] * len(ids)

    # -- scheduler-specific parts ------------------------------------------------------

    def _submit_command(self, script_path: str, job: JobSpec) -> str:
        raise NotImplementedError

    def _parse_job_id(self, stdout: str, stderr: str) -> Optional[str]:
        """Find the job id in the submit command's output; None when there is none."""
        raise NotImplementedError

    def _status_command(self, job_ids: List[str]) -> str:
        raise NotImplementedError

    def _parse_status(self, stdout: str, job_ids: List[str]
                      ) -> Tuple[Dict[str, ParsedStatus], bool]:
        """Parse the status command's output.

        Returns the jobs found and whether the output was fully understood; only then may
        a job missing from it be taken as finished.
        """
        raise NotImplementedError

    def _cancel_command(self, job_ids: List[str]) -> str:
        raise NotImplementedError


def first_match(pattern: str, text: str, group: str = "id") -> Optional[str]:
    """Return ``group`` of the first line of ``text`` matching ``pattern``, if any."""
    regex = re.compile(pattern)
    for line in text.splitlines():
        match = regex.search(line)
        if match:
            return match.group(group)
    return None
