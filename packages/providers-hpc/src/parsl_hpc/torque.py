"""TorqueProvider: blocks are Torque/PBS batch jobs submitted with qsub.

Status comes from ``qstat <ids>``'s table, whose fifth column is the state letter. Torque
shows completed jobs as ``C`` for a while (``keep_completed``) and then forgets them; a
forgotten job is taken as COMPLETED, as Parsl does.
"""
from __future__ import annotations

import logging
import re
import shlex
from typing import Any, Dict, List, Optional, Tuple, Union

from parsl._validation import validate_init
from parsl.jobs.states import JobState
from parsl.launchers.base import Launcher
from parsl_hpc.channels import Channel
from parsl_hpc.cluster_provider import (
    ClusterProvider,
    JobSpec,
    ParsedStatus,
    quote_all,
    translate_state,
)
from parsl_hpc.launchers import AprunLauncher

logger = logging.getLogger(__name__)

__all__ = ["TorqueProvider", "translate_table"]

#: Torque qstat state letters -> Parsl JobState (see qstat(1B)).
translate_table: Dict[str, JobState] = {
    "Q": JobState.PENDING,
    "W": JobState.PENDING,
    "T": JobState.PENDING,
    "H": JobState.HELD,
    "S": JobState.HELD,
    "R": JobState.RUNNING,
    "E": JobState.RUNNING,
    "C": JobState.COMPLETED,
}

_TORQUE_TEMPLATE = """#!/bin/bash
#PBS -S /bin/bash
#PBS -N ${jobname}
#PBS -m n
#PBS -l walltime=${walltime}
#PBS -l nodes=${nodes_per_block}:ppn=${tasks_per_node}
#PBS -o ${job_stdout_path}
#PBS -e ${job_stderr_path}
${scheduler_options}
${worker_init}
export JOBNAME="${jobname}"

${user_script}
"""

#: qsub prints the job id alone on a line: "123" or "123.server.domain".
_JOB_ID = re.compile(r"^\s*(?P<id>\d+(?:\[\d*\])?(?:\.[\w.-]+)?)\s*$")


def _numeric(job_id: str) -> str:
    """The sequence number of a PBS job id; qstat may truncate the server part."""
    return job_id.split(".", 1)[0]


class TorqueProvider(ClusterProvider):
    """Obtain blocks as Torque jobs: ``qsub`` submits, ``qstat`` polls, ``qdel`` ends.

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
    worker_init:
        Shell commands run in the job before the workers start.
    nodes_per_block:
        Nodes per block (``-l nodes=N:ppn=<tasks_per_node>``).
    init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy.
    launcher:
        Starts the workers; ``None`` means ``AprunLauncher()``, Parsl's default for Torque.
    walltime:
        Time limit of a block, ``HH:MM:SS``.
    cmd_timeout:
        Seconds qsub, qstat or qdel may take before they are killed and the call fails.
    move_files:
        Copy the job script to the channel's ``script_dir`` before submitting.
    """

    _template = _TORQUE_TEMPLATE
    _scheduler = "Torque"
    _gone_markers: Tuple[str, ...] = ("Unknown Job Id", "Invalid job id")

    @validate_init
    def __init__(self, channel: Optional[Channel] = None, account: Optional[str] = None,
                 queue: Optional[str] = None, scheduler_options: str = "",
                 worker_init: str = "", nodes_per_block: int = 1, init_blocks: int = 1,
                 min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: Union[int, float] = 1, launcher: Optional[Launcher] = None,
                 walltime: str = "00:20:00", cmd_timeout: Union[int, float] = 120,
                 move_files: bool = True) -> None:
        super().__init__("torque", channel, nodes_per_block, init_blocks, min_blocks,
                         max_blocks, parallelism, walltime,
                         launcher if launcher is not None else AprunLauncher(),
                         cmd_timeout, worker_init, move_files)
        self.account = account
        self.queue = queue
        self.scheduler_options = scheduler_options

    def _directive_lines(self) -> List[str]:
        lines = [self.scheduler_options] if self.scheduler_options else []
        if self.account:
            lines.append(f"#PBS -A {self.account}")
        if self.queue:
            lines.append(f"#PBS -q {self.queue}")
        return lines

    def _template_values(self, job: JobSpec) -> Dict[str, Any]:
        values = super()._template_values(job)
        values["scheduler_options"] = "\n".join(self._directive_lines())
        return values

    def _submit_command(self, script_path: str, job: JobSpec) -> str:
        # -o/-e on the command line as well: Slurm's qsub wrapper ignores the #PBS ones.
        return (f"qsub -o {shlex.quote(job.stdout_path)} -e {shlex.quote(job.stderr_path)} "
                f"{shlex.quote(script_path)}")

    def _parse_job_id(self, stdout: str, stderr: str) -> Optional[str]:
        for line in stdout.splitlines():
            match = _JOB_ID.match(line)
            if match:
                return match.group("id")
        return None

    def _status_command(self, job_ids: List[str]) -> str:
        return f"qstat {quote_all(job_ids)}"

    def _status_failure_means_gone(self, code: int, stdout: str, stderr: str) -> bool:
        return any(marker in stderr for marker in self._gone_markers)

    def _parse_status(self, stdout: str, job_ids: List[str]
                      ) -> Tuple[Dict[str, ParsedStatus], bool]:
        by_number = {_numeric(j): j for j in job_ids}
        found: Dict[str, ParsedStatus] = {}
        complete = True
        for line in stdout.splitlines():
            fields = line.split()
            if not fields or fields[0] in ("Job", "Job id") or fields[0].startswith("-"):
                continue
            if len(fields) < 6:
                logger.warning("Ignoring qstat line without six columns: %r", line)
                complete = False
                continue
            job_id = by_number.get(_numeric(fields[0]))
            if job_id is None:
                continue
            raw = fields[4]
            state = translate_state(raw, translate_table, self._scheduler, job_id)
            found[job_id] = ParsedStatus(state, raw, f"{self._scheduler} state {raw}")
        return found, complete

    def _cancel_command(self, job_ids: List[str]) -> str:
        return f"qdel {quote_all(job_ids)}"
