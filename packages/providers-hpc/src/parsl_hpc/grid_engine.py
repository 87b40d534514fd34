"""GridEngineProvider: blocks are (Son of / Univa / Altair) Grid Engine jobs.

``qsub -terse`` prints only the job id. Status comes from ``qstat``'s table of the user's
pending and running jobs, whose fifth column is a combination of state letters (``qw``,
``r``, ``hqw``, ``Eqw``, ``dr``...). Finished jobs leave qstat's listing at once, so a job
no longer listed is taken as COMPLETED, as Parsl does.
"""
from __future__ import annotations

import logging
import shlex
from typing import Any, Dict, List, Optional, Tuple, Union

from parsl._validation import validate_init
from parsl.jobs.states import JobState
from parsl.launchers.base import Launcher
from parsl.launchers.launchers import SingleNodeLauncher
from parsl_hpc.channels import Channel
from parsl_hpc.cluster_provider import ClusterProvider, JobSpec, ParsedStatus, quote_all

logger = logging.getLogger(__name__)

__all__ = ["GridEngineProvider", "translate_state_letters"]

_GRID_ENGINE_TEMPLATE = """#!/bin/bash
#$$ -S /bin/bash
#$$ -N ${jobname}
#$$ -o ${job_stdout_path}
#$$ -e ${job_stderr_path}
#$$ -l h_rt=${walltime}
#$$ -cwd
${scheduler_options}
${worker_init}
export JOBNAME="${jobname}"

${user_script}
"""

#: Grid Engine state letters, in the order they decide the Parsl state: an error (E)
#: outranks deletion (d), which outranks hold (h), suspension, running and queueing.
_LETTER_STATES: List[Tuple[str, JobState]] = [
    ("E", JobState.FAILED),
    ("d", JobState.CANCELLED),
    ("h", JobState.HELD),
    ("s", JobState.HELD),
    ("S", JobState.HELD),
    ("T", JobState.HELD),
    ("r", JobState.RUNNING),
    ("R", JobState.RUNNING),
    ("t", JobState.RUNNING),
    ("q", JobState.PENDING),
    ("w", JobState.PENDING),
]
_KNOWN_LETTERS = {letter for letter, _ in _LETTER_STATES}


def translate_state_letters(raw: str, job_id: str) -> JobState:
    """Translate a qstat state such as ``hqw`` or ``Eqw``; unknown letters become UNKNOWN."""
    unknown = set(raw) - _KNOWN_LETTERS
    if unknown or not raw:
        logger.warning("Grid Engine reported state %r for job %s, which Parsl does not "
                       "know; treating it as UNKNOWN", raw, job_id)
        return JobState.UNKNOWN
    for letter, state in _LETTER_STATES:
        if letter in raw:
            return state
    return JobState.UNKNOWN


class GridEngineProvider(ClusterProvider):
    """Obtain blocks as Grid Engine jobs: ``qsub -terse`` submits, ``qstat`` polls, ``qdel`` ends.

    Parameters
    ----------
    channel:
        Where the commands run; ``None`` means this machine.
    nodes_per_block:
        Nodes per block (request them with a parallel environment in
        ``scheduler_options``, e.g. ``#$ -pe mpi 32``).
    init_blocks, min_blocks, max_blocks, parallelism:
        Block counts and scaling aggressiveness, read by the scaling strategy.
    walltime:
        Time limit of a block, ``HH:MM:SS`` (``-l h_rt``).
    scheduler_options:
        Extra ``#$`` lines put verbatim into the job script.
    worker_init:
        Shell commands run in the job before the workers start.
    launcher:
        Starts the workers; ``None`` means ``SingleNodeLauncher()``.
    cmd_timeout:
        Seconds qsub, qstat or qdel may take before they are killed and the call fails.
    queue:
        Queue (``#$ -q``).
    move_files:
        Copy the job script to the channel's ``script_dir`` before submitting.
    """

    _template = _GRID_ENGINE_TEMPLATE
    _scheduler = "Grid Engine"

    @validate_init
    def __init__(self, channel: Optional[Channel] = None, nodes_per_block: int = 1,
                 init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: Union[int, float] = 1, walltime: str = "00:10:00",
                 scheduler_options: str = "", worker_init: str = "",
                 launcher: Optional[Launcher] = None, cmd_timeout: Union[int, float] = 60,
                 queue: Optional[str] = None, move_files: bool = True) -> None:
        super().__init__("grid_engine", channel, nodes_per_block, init_blocks, min_blocks,
                         max_blocks, parallelism, walltime,
                         launcher if launcher is not None else SingleNodeLauncher(),
                         cmd_timeout, worker_init, move_files)
        self.scheduler_options = scheduler_options
        self.queue = queue

    def _template_values(self, job: JobSpec) -> Dict[str, Any]:
        values = super()._template_values(job)
        lines = [self.scheduler_options] if self.scheduler_options else []
        if self.queue:
            lines.append(f"#$ -q {self.queue}")
        values["scheduler_options"] = "\n".join(lines)
        return values

    def _submit_command(self, script_path: str, job: JobSpec) -> str:
        return f"qsub -terse {shlex.quote(script_path)}"

    def _parse_job_id(self, stdout: str, stderr: str) -> Optional[str]:
        for line in stdout.splitlines():
            text = line.strip()
            if text:
                # An array job prints "123.1-10:1"; the job id is the part before the dot.
                candidate = text.split(".", 1)[0]
                return candidate if candidate.isdigit() else None
        return None

    def _status_command(self, job_ids: List[str]) -> str:
        return "qstat"

    def _parse_status(self, stdout: str, job_ids: List[str]
                      ) -> Tuple[Dict[str, ParsedStatus], bool]:
        wanted = set(job_ids)
        found: Dict[str, ParsedStatus] = {}
        complete = True
        for line in stdout.splitlines():
            fields = line.split()
            if not fields or fields[0] == "job-ID" or fields[0].startswith("-"):
                continue
            if len(fields) < 5 or not fields[0].isdigit():
                logger.warning("Ignoring qstat line that is not a job row: %r", line)
                complete = False
                continue
            job_id, raw = fields[0], fields[4]
            if job_id not in wanted:
                continue
            state = translate_state_letters(raw, job_id)
            found[job_id] = ParsedStatus(state, raw, f"Grid Engine state {raw}")
        return found, complete

    def _cancel_command(self, job_ids: List[str]) -> str:
        return f"qdel {quote_all(job_ids)}"
