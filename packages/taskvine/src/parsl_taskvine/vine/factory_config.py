"""TaskVineFactoryConfig: the vine_factory that supplies workers, with Parsl's fields."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["TaskVineFactoryConfig"]


@dataclass
class TaskVineFactoryConfig:
    """Settings of the worker factory used with ``worker_launch_method='factory'``.

    The factory keeps between ``min_workers`` and ``max_workers`` workers (at most
    ``workers_per_cycle`` new ones per cycle) through ``batch_type`` (``local``,
    ``condor``, ``slurm``, ...; ``batch_options`` and ``condor_requirements`` go to the
    batch system). Each worker offers ``cores``, ``gpus``, ``memory`` (MB) and ``disk``
    (MB) (default: what it detects), gets ``worker_options`` on its command line, and
    exits after ``worker_timeout`` idle seconds; the factory gives up after
    ``factory_timeout`` seconds without a manager. ``scratch_dir`` holds the factory's
    files (default: the executor's run folder). ``python_env`` is a poncho environment
    tarball workers run inside.
    """

    factory_timeout: int = 300
    scratch_dir: Optional[str] = None
    min_workers: int = 1
    max_workers: int = 1
    workers_per_cycle: int = 1
    worker_options: Optional[str] = None
    worker_executable: str = "vine_worker"
    worker_timeout: int = 300
    cores: Optional[int] = None
    gpus: Optional[int] = None
    memory: Optional[int] = None
    disk: Optional[int] = None
    python_env: Optional[str] = None
    batch_type: str = "local"
    condor_requirements: Optional[str] = None
    batch_options: Optional[str] = None
