"""LSFProvider: blocks are IBM Spectrum LSF jobs submitted with bsub.

Status comes from ``bjobs -a -noheader -o 'jobid stat'``; ``-a`` keeps recently finished
jobs in the listing, so DONE and EXIT (non-zero exit) are reported as such. bjobs names
jobs it no longer knows on stderr ("Job <123> is not found"); those are taken as COMPLETED,
as Parsl does.
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
from parsl.providers.cluster_provider_common import wtime_to_minutes
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

__all__ = ["LSFProvider", "translate_table"]

#: LSF job states (bjobs STAT column) -> Parsl JobState. See bjobs(1), "Job states".
translate_table: Dict[str, JobState] = {
    "PEND": JobState.PENDING,
    "WAIT": JobState.PENDING,
    "PROV": JobState.PENDING,
    "PSUSP": JobState.HELD,
    "USUSP": JobState.HELD,
    "SSUSP": JobState.HELD,
    "RUN": JobState.RUNNING,
    "DONE": JobState.COMPLETED,
    "EXIT": JobState.FAILED,
    "ZOMBI": JobState.FAILED,
    "UNKWN": JobState.UNKNOWN,
}

_LSF_TEMPLATE = """#!/bin/bash
#BSUB -W ${walltime_minutes}
#BSUB -J ${jobname}
#BSUB -o ${job_stdout_path}
#BSUB -e ${job_stderr_path}
${scheduler_options}
${worker_init}
export JOBNAME="${jobname}"

${user_script}
"""

_JOB_ID_REGEX = r"Job <(?P<id>\d+)> is submitted"


class LSFProvider(ClusterProvider):
    """Obtain blocks as LSF jobs: ``bsub`` submits, ``bjobs`` polls, ``bkill`` ends.

    Parameters
    ----------
    channel:
        Where the commands run; ``None`` means this machine.
    nodes_per_block:
        Nodes per block; requested with ``#BSUB -nnodes`` when ``request_by_nodes``.
    cores_per_block:
        Cores per block (``#BSUB -n``) when not requesting by nodes.
    cores_per_node:
        Cores per node (``span[ptile=...]``) when not requesting by nodes.
    init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy.
    walltime:
        Time limit of a block, ``HH:MM:SS``; LSF receives it in minutes, rounded up.
    scheduler_options:
        Extra ``#BSUB`` lines put verbatim into the job script.
    worker_init:
        Shell commands run in the job before the workers start.
    project:
        Project charged (``#BSUB -P``).
    queue:
        Queue (``#BSUB -q``).
    cmd_timeout:
        Seconds bsub, bjobs or bkill may take before they are killed and the call fails.
    move_files:
        Copy the job script to the channel's ``script_dir`` before submitting.
    bsub_redirection:
        Submit with ``bsub < script`` instead of ``bsub script``; LSF reads ``#BSUB``
        lines only from a script on standard input on some installations.
    request_by_nodes:
        Request whole nodes (``-nnodes``, as on Summit-like systems); when False,
        ``cores_per_block`` and ``cores_per_node`` are required.
    launcher:
        Starts the workers; ``None`` means ``SingleNodeLauncher()``.
    """

    _template = _LSF_TEMPLATE
    _scheduler = "LSF"

    @validate_init
    def __init__(self, channel: Optional[Channel] = None, nodes_per_block: int = 1,
                 cores_per_block: Optional[int] = None, cores_per_node: Optional[int] = None,
                 init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: Union[int, float] = 1, walltime: str = "00:10:00",
                 scheduler_options: str = "", worker_init: str = "",
                 project: Optional[str] = None, queue: Optional[str] = None,
                 cmd_timeout: Union[int, float] = 120, move_files: bool = True,
                 bsub_redirection: bool = False, request_by_nodes: bool = True,
                 launcher: Optional[Launcher] = None) -> None:
        owner = type(self).__name__
        super().__init__("LSF", channel, nodes_per_block, init_blocks, min_blocks,
                         max_blocks, parallelism, walltime,
                         launcher if launcher is not None else SingleNodeLauncher(),
                         cmd_timeout, worker_init, move_files)
        if not request_by_nodes:
            if cores_per_block is None:
                raise BadParameter(owner, "cores_per_block", cores_per_block,
                                   "an int >= 1 when request_by_nodes=False")
            if cores_per_node is None:
                raise BadParameter(owner, "cores_per_node", cores_per_node,
                                   "an int >= 1 when request_by_nodes=False")
        for name, value in (("cores_per_block", cores_per_block),
                            ("cores_per_node", cores_per_node)):
            if value is not None and value < 1:
                raise BadParameter(owner, name, value, "an int >= 1 or None")
        self.cores_per_block = cores_per_block
        self.cores_per_node = cores_per_node
        self.project = project
        self.queue = queue
        self.scheduler_options = scheduler_options
        self.bsub_redirection = bsub_redirection
        self.request_by_nodes = request_by_nodes

    def _directive_lines(self) -> List[str]:
        lines = [self.scheduler_options] if self.scheduler_options else []
        if self.request_by_nodes:
            lines.append(f"#BSUB -nnodes {self.nodes_per_block}")
        else:
            lines.append(f"#BSUB -n {self.cores_per_block}")
            lines.append(f'#BSUB -R "span[ptile={self.cores_per_node}]"')
        if self.project:
            lines.append(f"#BSUB -P {self.project}")
        if self.queue:
            lines.append(f"#BSUB -q {self.queue}")
        return lines

    def _template_values(self, job: JobSpec) -> Dict[str, Any]:
        values = super()._template_values(job)
        values["walltime_minutes"] = wtime_to_minutes(self.walltime)
        values["scheduler_options"] = "\n".join(self._directive_lines())
        return values

    def _submit_command(self, script_path: str, job: JobSpec) -> str:
        if self.bsub_redirection:
            return f"bsub < {shlex.quote(script_path)}"
        return f"bsub {shlex.quote(script_path)}"

    def _parse_job_id(self, stdout: str, stderr: str) -> Optional[str]:
        return first_match(_JOB_ID_REGEX, stdout)

    def _status_command(self, job_ids: List[str]) -> str:
        return f"bjobs -a -noheader -o 'jobid stat' {quote_all(job_ids)}"

    def _status_failure_means_gone(self, code: int, stdout: str, stderr: str) -> bool:
        return "is not found" in stderr

    def _parse_status(self, stdout: str, job_ids: List[str]
                      ) -> Tuple[Dict[str, ParsedStatus], bool]:
        wanted = set(job_ids)
        found: Dict[str, ParsedStatus] = {}
        complete = True
        for line in stdout.splitlines():
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[0].isdigit():
                logger.warning("Ignoring bjobs line that is not 'jobid stat': %r", line)
                complete = False
                continue
            job_id, raw = fields
            if job_id not in wanted:
                continue
            state = translate_state(raw, translate_table, self._scheduler, job_id)
            found[job_id] = ParsedStatus(state, raw, f"LSF state {raw}")
        return found, complete

    def _cancel_command(self, job_ids: List[str]) -> str:
        return f"bkill {quote_all(job_ids)}"
