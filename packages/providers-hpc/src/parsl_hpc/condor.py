"""CondorProvider: blocks are HTCondor jobs submitted with condor_submit.

HTCondor takes a submit description (``<job>.submit``) naming an executable, so a block
is two files: the description and the job script (``<job>.sh``: worker_init, then the
launcher-wrapped command). ``leave_in_queue`` keeps finished jobs visible to ``condor_q``
until they are removed, so a block's exit code can be read; jobs ``condor_q`` no longer
lists are taken as COMPLETED, as Parsl does.
"""
from __future__ import annotations

import logging
import shlex
from typing import Any, Dict, List, Optional, Tuple, Union

from parsl._validation import validate_init
from parsl.errors import BadParameter
from parsl.jobs.states import JobState
from parsl.launchers.base import Launcher
from parsl.launchers.launchers import SingleNodeLauncher
from parsl.providers.cluster_provider_common import write_submit_script
from parsl_hpc.channels import Channel
from parsl_hpc.cluster_provider import (
    ClusterProvider,
    JobSpec,
    ParsedStatus,
    first_match,
    quote_all,
    translate_state,
)

logger = logging.getLogger(__name__)

__all__ = ["CondorProvider", "translate_table"]

#: HTCondor JobStatus codes (as printed by ``condor_q -af JobStatus``) -> Parsl JobState.
translate_table: Dict[str, JobState] = {
    "0": JobState.PENDING,    # unexpanded
    "1": JobState.PENDING,    # idle
    "2": JobState.RUNNING,
    "3": JobState.CANCELLED,  # removed
    "4": JobState.COMPLETED,  # FAILED when ExitCode is non-zero
    "5": JobState.HELD,
    "6": JobState.RUNNING,    # transferring output
    "7": JobState.HELD,       # suspended
}

#: When several processes of one cluster are in different states, the block is in the
#: most active one.
_PRECEDENCE = [JobState.RUNNING, JobState.PENDING, JobState.HELD, JobState.UNKNOWN,
               JobState.FAILED, JobState.CANCELLED, JobState.COMPLETED]

_JOB_SCRIPT_TEMPLATE = """#!/bin/bash
${worker_init}
export JOBNAME="${jobname}"

${user_script}
"""

_SUBMIT_TEMPLATE = """universe = vanilla
executable = ${job_script}
output = ${job_stdout_path}
error = ${job_stderr_path}
should_transfer_files = YES
when_to_transfer_output = ON_EXIT_OR_EVICT
transfer_executable = True
leave_in_queue = TRUE
periodic_remove = (JobStatus == 2) && ((time() - EnteredCurrentStatus) > ${walltime_seconds})
${resources}
${scheduler_options}
queue ${nodes_per_block}
"""

_JOB_ID_REGEX = r"submitted to cluster (?P<id>\d+)"


def _quote_environment(environment: Dict[str, str]) -> str:
    """Render an environment in HTCondor's new (double-quoted) syntax."""
    parts = []
    for name, value in environment.items():
        escaped = value.replace('"', '""').replace("'", "''")
        parts.append(f"{name}='{escaped}'")
    return '"' + " ".join(parts) + '"'


class CondorProvider(ClusterProvider):
    """Obtain blocks as HTCondor jobs: condor_submit submits, condor_q polls, condor_rm ends.

    Parameters
    ----------
    channel:
        Where the commands run; ``None`` means this machine.
    nodes_per_block:
        Job processes (slots) per block: the submit description ends ``queue N``.
    cores_per_slot:
        ``request_cpus`` per slot.
    mem_per_slot:
        ``request_memory`` per slot, in GB.
    init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy.
    environment:
        Environment variables set in the job (``environment`` command).
    project:
        Accounting project (``+ProjectName``).
    scheduler_options:
        Extra submit-description lines, put in verbatim.
    transfer_input_files:
        Files HTCondor copies to the execute node with the job.
    walltime:
        A running job older than this (``HH:MM:SS``) is removed by ``periodic_remove``.
    worker_init:
        Shell commands run in the job before the workers start.
    launcher:
        Starts the workers; ``None`` means ``SingleNodeLauncher()``.
    requirements:
        ClassAd expression the execute machine must satisfy (``requirements``).
    cmd_timeout:
        Seconds condor_submit, condor_q or condor_rm may take before they are killed.
    move_files:
        Copy the scripts to the channel's ``script_dir`` before submitting.
    """

    _template = _SUBMIT_TEMPLATE
    _scheduler = "HTCondor"

    @validate_init
    def __init__(self, channel: Optional[Channel] = None, nodes_per_block: int = 1,
                 cores_per_slot: Optional[int] = None,
                 mem_per_slot: Optional[Union[int, float]] = None, init_blocks: int = 1,
                 min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: Union[int, float] = 1,
                 environment: Optional[Dict[str, str]] = None, project: str = "",
                 scheduler_options: str = "",
                 transfer_input_files: Optional[List[str]] = None,
                 walltime: str = "00:10:00", worker_init: str = "",
                 launcher: Optional[Launcher] = None, requirements: str = "",
                 cmd_timeout: Union[int, float] = 60, move_files: bool = True) -> None:
        owner = type(self).__name__
        super().__init__("condor", channel, nodes_per_block, init_blocks, min_blocks,
                         max_blocks, parallelism, walltime,
                         launcher if launcher is not None else SingleNodeLauncher(),
                         cmd_timeout, worker_init, move_files)
        if cores_per_slot is not None and cores_per_slot < 1:
            raise BadParameter(owner, "cores_per_slot", cores_per_slot, "an int >= 1 or None")
        if mem_per_slot is not None and mem_per_slot <= 0:
            raise BadParameter(owner, "mem_per_slot", mem_per_slot, "GB > 0 or None")
        self.cores_per_slot = cores_per_slot
        self.mem_per_slot = mem_per_slot
        self.environment: Dict[str, str] = dict(environment or {})
        self.project = project
        self.scheduler_options = scheduler_options
        self.transfer_input_files: List[str] = list(transfer_input_files or [])
        self.requirements = requirements

    @property
    def cores_per_node(self) -> Optional[int]:
        return self.cores_per_slot

    @cores_per_node.setter
    def cores_per_node(self, value: Optional[int]) -> None:
        self.cores_per_slot = value

    def _job_script_path(self, job: JobSpec, remote: bool) -> str:
        path = job.remote_script_path if remote else job.script_path
        return path[: -len(self._script_suffix)] + ".sh"

    def _template_values(self, job: JobSpec) -> Dict[str, Any]:
        values = super()._template_values(job)
        resources = []
        if self.cores_per_slot is not None:
            resources.append(f"request_cpus = {self.cores_per_slot}")
        if self.mem_per_slot is not None:
            resources.append(f"request_memory = {int(self.mem_per_slot * 1024)}")
        if self.environment:
            resources.append(f"environment = {_quote_environment(self.environment)}")
        if self.transfer_input_files:
            resources.append("transfer_input_files = " + ", ".join(self.transfer_input_files))
        if self.requirements:
            resources.append(f"requirements = {self.requirements}")
        if self.project:
            resources.append(f'+ProjectName = "{self.project}"')
        values["resources"] = "\n".join(resources)
        values["walltime_seconds"] = self.walltime_seconds
        values["job_script"] = self._job_script_path(job, remote=True)
        return values

    def _write_scripts(self, job: JobSpec) -> None:
        values = self._template_values(job)
        write_submit_script(self._job_script_path(job, remote=False),
                            self._render(_JOB_SCRIPT_TEMPLATE, values))
        write_submit_script(job.script_path, self._render(self._template, values),
                            executable=False)

    def _push_scripts(self, job: JobSpec) -> str:
        self._push(self._job_script_path(job, remote=False),
                   self._job_script_path(job, remote=True))
        return self._push(job.script_path, job.remote_script_path)

    def _submit_command(self, script_path: str, job: JobSpec) -> str:
        return f"condor_submit {shlex.quote(script_path)}"

    def _parse_job_id(self, stdout: str, stderr: str) -> Optional[str]:
        return first_match(_JOB_ID_REGEX, stdout)

    def _status_command(self, job_ids: List[str]) -> str:
        return f"condor_q {quote_all(job_ids)} -af:jr JobStatus ExitCode"

    def _parse_status(self, stdout: str, job_ids: List[str]
                      ) -> Tuple[Dict[str, ParsedStatus], bool]:
        wanted = set(job_ids)
        per_cluster: Dict[str, List[ParsedStatus]] = {}
        complete = True
        for line in stdout.splitlines():
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2 or not fields[0].replace(".", "").isdigit():
                logger.warning("Ignoring condor_q line that is not 'id JobStatus ExitCode': "
                               "%r", line)
                complete = False
                continue
            cluster = fields[0].split(".", 1)[0]
            if cluster not in wanted:
                continue
            raw = fields[1]
            state = translate_state(raw, translate_table, self._scheduler, cluster)
            exit_code: Optional[int] = None
            if len(fields) > 2 and fields[2].lstrip("-").isdigit():
                exit_code = int(fields[2])
                if state is JobState.COMPLETED and exit_code != 0:
                    state = JobState.FAILED
            message = f"HTCondor JobStatus {raw}"
            if exit_code is not None and state.terminal:
                message += f", exit code {exit_code}"
            per_cluster.setdefault(cluster, []).append(
                ParsedStatus(state, raw, message, exit_code))
        found = {cluster: min(states, key=lambda s: _PRECEDENCE.index(s.state))
                 for cluster, states in per_cluster.items()}
        return found, complete

    def _cancel_command(self, job_ids: List[str]) -> str:
        return f"condor_rm {quote_all(job_ids)}"
