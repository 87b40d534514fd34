"""Helpers every provider package needs: job file names, submit scripts, walltimes.

Providers write one script per block into ``script_dir`` (``runinfo/NNN/submit_scripts``),
named after the job, next to the job's ``.stdout``/``.stderr``. Keeping these rules here
means every provider lays out ``submit_scripts/`` the same way, which is where users look
first when a block fails.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from typing import NamedTuple

logger = logging.getLogger(__name__)

__all__ = [
    "JobFiles",
    "job_files",
    "safe_job_name",
    "walltime_to_seconds",
    "write_submit_script",
    "wtime_to_minutes",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class JobFiles(NamedTuple):
    """Paths of one job's script and output files; they share one base name."""

    script: str
    stdout: str
    stderr: str


def safe_job_name(job_name: str) -> str:
    """Return ``job_name`` with every character unsafe in a file or job name replaced."""
    cleaned = _UNSAFE.sub("_", job_name).strip("._")
    return cleaned or "parsl.job"


def job_files(script_dir: str, job_name: str, script_suffix: str = ".sh") -> JobFiles:
    """Choose unused paths for a job's script and output in ``script_dir``.

    The base name is the sanitized ``job_name``; when a script of that name already exists
    (two blocks submitted within one clock tick), ``.1``, ``.2``... is appended so one job
    never overwrites another's script or output.
    """
    base = safe_job_name(job_name)
    candidate = base
    counter = 0
    while os.path.exists(os.path.join(script_dir, candidate + script_suffix)):
        counter += 1
        candidate = f"{base}.{counter}"
    prefix = os.path.join(script_dir, candidate)
    return JobFiles(prefix + script_suffix, prefix + ".stdout", prefix + ".stderr")


def write_submit_script(path: str, text: str, executable: bool = True) -> str:
    """Write ``text`` to ``path`` atomically and return ``path``.

    The script is written to a temporary file in the same folder and renamed into place,
    so a scheduler or a user reading ``submit_scripts/`` never sees half a script. Raises
    :class:`parsl.providers.errors.ScriptPathError` naming the path when it cannot be
    written.
    """
    from parsl.providers.errors import ScriptPathError

    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp_path, 0o755 if executable else 0o644)
            os.replace(tmp_path, path)
        except BaseException:
            os.unlink(tmp_path)
            raise
    except OSError as e:
        logger.error("Could not write submit script %s: %s", path, e)
        raise ScriptPathError(path, e) from e
    logger.debug("Wrote submit script %s", path)
    return path


def walltime_to_seconds(walltime: str) -> int:
    """Convert a ``[[DD:]HH:]MM:SS`` or Slurm-style ``DD-HH[:MM[:SS]]`` walltime to seconds.

    Raises ``ValueError`` naming the walltime when it does not have that shape.
    """
    text = walltime.strip()
    days = 0
    if "-" in text:
        day_part, text = text.split("-", 1)
        days = _int_field(day_part, walltime)
        fields = [_int_field(part, walltime) for part in text.split(":")]
        if not 1 <= len(fields) <= 3:
            raise ValueError(f"walltime {walltime!r} is not of the form DD-HH[:MM[:SS]]")
        fields += [0] * (3 - len(fields))
        fields.insert(0, days)
    else:
        fields = [_int_field(part, walltime) for part in text.split(":")]
        if not 2 <= len(fields) <= 4:
            raise ValueError(f"walltime {walltime!r} is not of the form [[DD:]HH:]MM:SS")
        fields = [0] * (4 - len(fields)) + fields
    d, h, m, s = fields
    return ((d * 24 + h) * 60 + m) * 60 + s


def wtime_to_minutes(time_string: str) -> int:
    """Convert a ``HH:MM:SS`` walltime to whole minutes, rounding seconds up.

    Some schedulers (LSF, Cobalt) take walltimes in minutes; rounding up keeps the job
    from being killed before the requested time.
    """
    seconds = walltime_to_seconds(time_string)
    return (seconds + 59) // 60


def _int_field(text: str, walltime: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"walltime {walltime!r} is not of the form [[DD:]HH:]MM:SS")
    return int(text)
