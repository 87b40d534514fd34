"""SlurmProvider: blocks are Slurm batch jobs submitted with sbatch.

Status comes from ``squeue --states=all``, which lists pending, running and recently
finished jobs (for ``MinJobAge`` seconds) with their full state names, so a job that failed
or hit its time limit is reported as FAILED or TIMEOUT rather than guessed. A job squeue
has forgotten is taken as COMPLETED, as Parsl does.
"""
from __future__ import annotations

import logging
import math
import re
import shlex
from typing import Any, Dict, List, Optional, Tuple, Union

from parsl._validation import validate_init
from parsl.errors import BadParameter
from parsl.jobs.states import JobState
from parsl.launchers.base import Launcher
from parsl.launchers.launchers import SingleNodeLauncher
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

__all__ = ["SlurmProvider", "translate_table"]

#: Slurm job states (long names printed by ``squeue -o %T`` and the short codes of
#: ``%t``) -> Parsl JobState. See the JOB STATE CODES section of squeue(1).
translate_table: Dict[str, JobState] = {
    "PENDING": JobState.PENDING, "PD": JobState.PENDING,
    "CONFIGURING": JobState.PENDING, "CF": JobState.PENDING,
    "REQUEUED": JobState.PENDING, "RQ": JobState.PENDING,
    "REQUEUE_FED": JobState.PENDING, "RF": JobState.PENDING,
    "RESV_DEL_HOLD": JobState.HELD, "RD": JobState.HELD,
    "REQUEUE_HOLD": JobState.HELD, "RH": JobState.HELD,
    "SUSPENDED": JobState.HELD, "S": JobState.HELD,
    "STOPPED": JobState.HELD, "ST": JobState.HELD,
    "RUNNING": JobState.RUNNING, "R": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING, "CG": JobState.RUNNING,
    "RESIZING": JobState.RUNNING, "RS": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING, "SI": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING, "SO": JobState.RUNNING,
    "COMPLETED": JobState.COMPLETED, "CD": JobState.COMPLETED,
    "CANCELLED": JobState.CANCELLED, "CA": JobState.CANCELLED,
    "PREEMPTED": JobState.CANCELLED, "PR": JobState.CANCELLED,
    "REVOKED": JobState.CANCELLED, "RV": JobState.CANCELLED,
    "FAILED": JobState.FAILED, "F": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED, "BF": JobState.FAILED,
    "NODE_FAIL": JobState.FAILED, "NF": JobState.FAILED,
    "OUT_OF_MEMORY": JobState.FAILED, "OOM": JobState.FAILED,
    "SPECIAL_EXIT": JobState.FAILED, "SE": JobState.FAILED,
    "DEADLINE": JobState.TIMEOUT, "DL": JobState.TIMEOUT,
    "TIMEOUT": JobState.TIMEOUT, "TO": JobState.TIMEOUT,
}

_SLURM_TEMPLATE = """#!/bin/bash
#SBATCH --job-name=${jobname}
#SBATCH --output="${job_stdout_path}"
#SBATCH --error="${job_stderr_path}"
#SBATCH --nodes=${nodes}
#SBATCH --time=${walltime}
#SBATCH --ntasks-per-node=${tasks_per_node}
${scheduler_options}
${worker_init}
export JOBNAME="${jobname}"

${user_script}
"""

_SQUEUE_SEPARATOR = "|"


class SlurmProvider(ClusterProvider):
    """Obtain blocks as Slurm jobs: ``sbatch`` submits, ``squeue`` polls, ``scancel`` ends.

    Parameters
    ----------
    partition:
        Partition (``--partition``) to submit to; ``None`` uses the cluster's default.
    account:
        Account (``--account``) charged for the job; ``None`` uses the user's default.
    qos:
        Quality of service (``--qos``).
    constraint:
        Node features required (``--constraint``), e.g. a CPU or GPU type.
    clusters:
        Cluster(s) of a multi-cluster installation (``--clusters``); passed to sbatch,
        squeue and scancel alike so the job is found again.
    channel:
        Where the Slurm commands run; ``None`` means this machine. An
        :class:`~parsl_hpc.channels.SSHChannel` drives a cluster from elsewhere.
    nodes_per_block:
        Nodes per block (``--nodes``).
    cores_per_node:
        Cores a block needs on each node: requests ``--cpus-per-task`` of
        ``cores_per_node // tasks_per_node`` and exports ``PARSL_CORES``.
    mem_per_node:
        Memory per node in GB (``--mem``); exported as ``PARSL_MEMORY_GB``.
    gres:
        Generic resources per node (``--gres``), e.g. ``"gpu:2"``.
    init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy.
    walltime:
        Time limit of a block, ``HH:MM:SS``.
    scheduler_options:
        Extra ``#SBATCH`` lines put verbatim into the job script.
    regex_job_id:
        Regular expression with an ``id`` group finding the job id in sbatch's output.
    worker_init:
        Shell commands run in the job before the workers start.
    cmd_timeout:
        Seconds sbatch, squeue or scancel may take before they are killed and the call
        fails.
    exclusive:
        Request whole nodes (``--exclusive``), not shared with other jobs.
    move_files:
        Copy the job script to the channel's ``script_dir`` before submitting; set False
        when the script folder is on a file system shared with the login node.
    launcher:
        Starts the workers on the block's nodes; ``None`` means ``SingleNodeLauncher()``.
    """

    _template = _SLURM_TEMPLATE
    _scheduler = "Slurm"

    @validate_init
    def __init__(self, partition: Optional[str] = None, account: Optional[str] = None,
                 qos: Optional[str] = None, constraint: Optional[str] = None,
                 clusters: Optional[str] = None, channel: Optional[Channel] = None,
                 nodes_per_block: int = 1, cores_per_node: Optional[int] = None,
                 mem_per_node: Optional[int] = None, gres: Optional[str] = None,
                 init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: Union[int, float] = 1, walltime: str = "00:10:00",
                 scheduler_options: str = "",
                 regex_job_id: str = r"Submitted batch job (?P<id>\S*)",
                 worker_init: str = "", cmd_timeout: Union[int, float] = 10,
                 exclusive: bool = True, move_files: bool = True,
                 launcher: Optional[Launcher] = None) -> None:
        owner = type(self).__name__
        super().__init__("slurm", channel, nodes_per_block, init_blocks, min_blocks,
                         max_blocks, parallelism, walltime,
                         launcher if launcher is not None else SingleNodeLauncher(),
                         cmd_timeout, worker_init, move_files)
        if cores_per_node is not None and cores_per_node < 1:
            raise BadParameter(owner, "cores_per_node", cores_per_node, "an int >= 1 or None")
        if mem_per_node is not None and mem_per_node < 1:
            raise BadParameter(owner, "mem_per_node", mem_per_node, "GB as an int >= 1 or None")
        try:
            compiled = re.compile(regex_job_id)
        except re.error as e:
            raise BadParameter(owner, "regex_job_id", regex_job_id,
                               f"a valid regular expression ({e})") from None
        if "id" not in compiled.groupindex:
            raise BadParameter(owner, "regex_job_id", regex_job_id,
                               "a regular expression with a group named 'id'")
        self.partition = partition
        self.account = account
        self.qos = qos
        self.constraint = constraint
        self.clusters = clusters
        self.cores_per_node = cores_per_node
        self.mem_per_node = mem_per_node
        self.gres = gres
        self.exclusive = exclusive
        self.regex_job_id = regex_job_id
        self.scheduler_options = scheduler_options

    def _directives(self, tasks_per_node: int) -> Tuple[List[str], List[str]]:
        """``#SBATCH`` lines and environment exports implied by the parameters."""
        lines = [self.scheduler_options] if self.scheduler_options else []
        exports: List[str] = []
        if self.exclusive:
            lines.append("#SBATCH --exclusive")
        for flag, value in (("partition", self.partition), ("account", self.account),
                            ("qos", self.qos), ("constraint", self.constraint),
                            ("clusters", self.clusters), ("gres", self.gres)):
            if value:
                lines.append(f"#SBATCH --{flag}={value}")
        if self.mem_per_node is not None:
            lines.append(f"#SBATCH --mem={self.mem_per_node}g")
            exports.append(f"export PARSL_MEMORY_GB={self.mem_per_node}")
        if self.cores_per_node is not None:
            cpus_per_task = max(1, math.floor(self.cores_per_node / max(1, tasks_per_node)))
            lines.append(f"#SBATCH --cpus-per-task={cpus_per_task}")
            exports.append(f"export PARSL_CORES={cpus_per_task}")
        return lines, exports

    def _template_values(self, job: JobSpec) -> Dict[str, Any]:
        values = super()._template_values(job)
        lines, exports = self._directives(job.tasks_per_node)
        values["scheduler_options"] = "\n".join(lines)
        values["worker_init"] = "\n".join([self.worker_init, *exports]).strip("\n")
        return values

    def _cluster_flag(self) -> str:
        return f" --clusters={shlex.quote(self.clusters)}" if self.clusters else ""

    def _submit_command(self, script_path: str, job: JobSpec) -> str:
        return f"sbatch{self._cluster_flag()} {shlex.quote(script_path)}"

    def _parse_job_id(self, stdout: str, stderr: str) -> Optional[str]:
        return first_match(self.regex_job_id, stdout)

    def _status_command(self, job_ids: List[str]) -> str:
        return (f"squeue{self._cluster_flag()} --noheader --states=all "
                f"--format='%i{_SQUEUE_SEPARATOR}%T{_SQUEUE_SEPARATOR}%r' "
                f"--jobs={shlex.quote(','.join(job_ids))}")

    def _status_failure_means_gone(self, code: int, stdout: str, stderr: str) -> bool:
        # squeue exits 1 when every requested job has aged out of slurmctld's memory.
        return "Invalid job id specified" in stderr

    def _parse_status(self, stdout: str, job_ids: List[str]
                      ) -> Tuple[Dict[str, ParsedStatus], bool]:
        found: Dict[str, ParsedStatus] = {}
        complete = True
        for raw_line in stdout.splitlines():
            line = raw_line.strip()
            if not line or line.startswith("CLUSTER:"):
                continue
            fields = line.split(_SQUEUE_SEPARATOR)
            if len(fields) < 2 or not fields[0].strip():
                logger.warning("Ignoring squeue line that is not 'jobid|state|reason': %r",
                               line)
                complete = False
                continue
            job_id, raw = fields[0].strip(), fields[1].strip()
            reason = fields[2].strip() if len(fields) > 2 else ""
            state = translate_state(raw, translate_table, self._scheduler, job_id)
            message = f"Slurm state {raw}"
            if reason and reason != "None":
                message += f" (reason: {reason})"
            found[job_id] = ParsedStatus(state, raw, message)
        return found, complete

    def _cancel_command(self, job_ids: List[str]) -> str:
        return f"scancel{self._cluster_flag()} {quote_all(job_ids)}"
