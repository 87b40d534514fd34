"""PBSProProvider: blocks are PBS Pro (OpenPBS) jobs, requested with ``-l select``.

Status comes from ``qstat -f -x -F json <ids>``: ``-x`` includes finished jobs, and the
JSON carries each job's ``job_state`` and, once finished, its ``Exit_status``, so a block
whose script failed is reported FAILED with its exit code rather than COMPLETED.
"""
from __future__ import annotations

import json
import logging
import shlex
from typing import Any, Dict, List, Optional, Tuple, Union

from parsl._validation import validate_init
from parsl.errors import BadParameter
from parsl.jobs.states import JobState
from parsl.launchers.base import Launcher
from parsl.launchers.launchers import SingleNodeLauncher
from parsl_hpc.channels import Channel
from parsl_hpc.cluster_provider import JobSpec, ParsedStatus, quote_all, translate_state
from parsl_hpc.torque import TorqueProvider

logger = logging.getLogger(__name__)

__all__ = ["PBSProProvider", "translate_table"]

#: PBS Pro job_state letters -> Parsl JobState (see qstat(1B), "Job States").
translate_table: Dict[str, JobState] = {
    "B": JobState.RUNNING,    # array job has begun
    "E": JobState.RUNNING,    # exiting after having run
    "F": JobState.COMPLETED,  # finished (FAILED when Exit_status is non-zero)
    "H": JobState.HELD,
    "M": JobState.PENDING,    # moved to another server
    "Q": JobState.PENDING,
    "R": JobState.RUNNING,
    "S": JobState.HELD,       # suspended
    "T": JobState.PENDING,    # transiting
    "U": JobState.HELD,       # suspended, workstation busy
    "W": JobState.PENDING,    # waiting for its start time
    "X": JobState.COMPLETED,  # finished subjob
}

_PBSPRO_TEMPLATE = """#!/bin/bash
#PBS -S /bin/bash
#PBS -N ${jobname}
#PBS -m n
#PBS -l walltime=${walltime}
#PBS -l select=${nodes_per_block}:ncpus=${ncpus}${select_options}
#PBS -o ${job_stdout_path}
#PBS -e ${job_stderr_path}
${scheduler_options}
${worker_init}
export JOBNAME="${jobname}"

${user_script}
"""


class PBSProProvider(TorqueProvider):
    """Obtain blocks as PBS Pro jobs: ``qsub`` submits, ``qstat -F json`` polls, ``qdel`` ends.

    Parameters
    ----------
    channel:
        Where the commands run; ``None`` means this machine.
    account:
        Account charged (``#PBS -A``).
    queue:
        Destination queue (``#PBS -q``).
    scheduler_options:
        Extra ``#PBS`` lines put verbatim into the job script.
    select_options:
        Appended to each chunk of the ``-l select`` request, e.g. ``"ngpus=4"`` or
        ``"mpiprocs=64"``.
    worker_init:
        Shell commands run in the job before the workers start.
    nodes_per_block:
        Chunks (nodes) per block.
    cpus_per_node:
        ``ncpus`` requested per chunk.
    init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy.
    launcher:
        Starts the workers; ``None`` means ``SingleNodeLauncher()``.
    walltime:
        Time limit of a block, ``HH:MM:SS``.
    cmd_timeout:
        Seconds qsub, qstat or qdel may take before they are killed and the call fails.
    move_files:
        Copy the job script to the channel's ``script_dir`` before submitting.
    """

    _template = _PBSPRO_TEMPLATE
    _scheduler = "PBS Pro"

    @validate_init
    def __init__(self, channel: Optional[Channel] = None, account: Optional[str] = None,
                 queue: Optional[str] = None, scheduler_options: str = "",
                 select_options: str = "", worker_init: str = "", nodes_per_block: int = 1,
                 cpus_per_node: int = 1, init_blocks: int = 1, min_blocks: int = 0,
                 max_blocks: int = 1, parallelism: Union[int, float] = 1,
                 launcher: Optional[Launcher] = None, walltime: str = "00:20:00",
                 cmd_timeout: Union[int, float] = 120, move_files: bool = True) -> None:
        if cpus_per_node < 1:
            raise BadParameter(type(self).__name__, "cpus_per_node", cpus_per_node,
                               "an int >= 1")
        super().__init__(channel=channel, account=account, queue=queue,
                         scheduler_options=scheduler_options, worker_init=worker_init,
                         nodes_per_block=nodes_per_block, init_blocks=init_blocks,
                         min_blocks=min_blocks, max_blocks=max_blocks,
                         parallelism=parallelism,
                         launcher=launcher if launcher is not None else SingleNodeLauncher(),
                         walltime=walltime, cmd_timeout=cmd_timeout, move_files=move_files)
        self.label = "pbspro"
        self.select_options = select_options
        self.cpus_per_node = cpus_per_node

    def _template_values(self, job: JobSpec) -> Dict[str, Any]:
        values = super()._template_values(job)
        values["ncpus"] = self.cpus_per_node
        options = self.select_options.lstrip(":")
        values["select_options"] = f":{options}" if options else ""
        return values

    def _submit_command(self, script_path: str, job: JobSpec) -> str:
        return f"qsub {shlex.quote(script_path)}"

    def _status_command(self, job_ids: List[str]) -> str:
        return f"qstat -f -x -F json {quote_all(job_ids)}"

    def _parse_status(self, stdout: str, job_ids: List[str]
                      ) -> Tuple[Dict[str, ParsedStatus], bool]:
        if not stdout.strip():
            return {}, True
        document = json.loads(stdout)
        jobs = document.get("Jobs", {})
        if not isinstance(jobs, dict):
            raise ValueError("'Jobs' is not an object")
        by_number = {j.split(".", 1)[0]: j for j in job_ids}
        found: Dict[str, ParsedStatus] = {}
        for key, info in jobs.items():
            job_id = by_number.get(str(key).split(".", 1)[0])
            if job_id is None:
                continue
            raw = str(info["job_state"])
            state = translate_state(raw, translate_table, self._scheduler, job_id)
            exit_code: Optional[int] = None
            if "Exit_status" in info:
                exit_code = int(info["Exit_status"])
                if state is JobState.COMPLETED and exit_code != 0:
                    state = JobState.FAILED
            message = f"PBS Pro state {raw}"
            if exit_code is not None:
                message += f", exit status {exit_code}"
            found[job_id] = ParsedStatus(state, raw, message, exit_code)
        return found, True
