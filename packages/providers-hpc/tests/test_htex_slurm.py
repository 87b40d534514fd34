"""End to end: HighThroughputExecutor runs real tasks in a real Slurm job started by
SlurmProvider, its workers launched with SrunLauncher."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import parsl
from parsl.config import Config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


REPO_ROOT = str(Path(__file__).resolve().parents[3])


def test_htex_runs_tasks_in_slurm_block_launched_with_srun(slurm_cluster, tmp_path, monkeypatch):
    """Runs in tmp_path: Slurm jobs start in sbatch's folder, where SrunLauncher writes its
    command file. Workers import this module by its importlib-mode name, from REPO_ROOT."""
    parsl_htex = pytest.importorskip("parsl_htex")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p))
    from parsl_hpc import SlurmProvider, SrunLauncher

    provider = SlurmProvider(exclusive=False, walltime="00:05:00", cmd_timeout=30,
                             launcher=SrunLauncher(), init_blocks=1, max_blocks=1)
    executor = parsl_htex.HighThroughputExecutor(
        label="slurm_htex", provider=provider, address="127.0.0.1",
        max_workers_per_node=1, heartbeat_period=2, heartbeat_threshold=10)
    dfk = parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo")))
    try:
        @parsl.python_app
        def in_slurm_job() -> str:
            import os

            return os.environ.get("SLURM_JOB_ID", "")

        futures = [in_slurm_job() for _ in range(3)]
        job_ids = {f.result(timeout=180) for f in futures}
    finally:
        dfk.cleanup()
        parsl.clear()

    assert len(job_ids) == 1 and next(iter(job_ids)).isdigit()
