"""TaskVine workers launched by providers: LocalProvider, and SlurmProvider on real Slurm."""
from __future__ import annotations

import os
from typing import Any, Callable

import pytest
import tv_apps
from tv_helpers import assert_nothing_left, free_port

from parsl.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig
from parsl.providers import LocalProvider

pytestmark = pytest.mark.timeout(240)


def test_local_provider_block_runs_tasks_and_is_gone_after_cleanup(
        load_config: Callable[..., Any]) -> None:
    port = free_port()
    ex = TaskVineExecutor(worker_launch_method="provider",
                          manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1"),
                          provider=LocalProvider(init_blocks=1, max_blocks=1))
    dfk = load_config(ex)
    assert tv_apps.double(5).result(timeout=90) == 10
    assert len(ex.blocks_to_job_id) == 1
    dfk.cleanup()
    assert_nothing_left(port)


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_provider_block_runs_tasks_inside_the_slurm_job(
        load_config: Callable[..., Any], tmp_path: Any, monkeypatch: Any) -> None:
    """Slurm jobs start in sbatch's folder; the worker finds Python and cctools through
    the PATH and PYTHONPATH its launch command sets."""
    from parsl.providers import SlurmProvider

    monkeypatch.chdir(tmp_path)
    port = free_port()
    ex = TaskVineExecutor(worker_launch_method="provider",
                          manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1"),
                          provider=SlurmProvider(exclusive=False, walltime="00:05:00",
                                                 cmd_timeout=30, init_blocks=1,
                                                 max_blocks=1))
    dfk = load_config(ex)

    job_id = tv_apps.slurm_job_id().result(timeout=180)
    assert job_id.isdigit()
    dfk.cleanup()
    assert_nothing_left(port)
    assert os.path.isdir(tmp_path)


def test_manual_workers_run_tasks_and_single_shot_ones_exit_after_cleanup(
        load_config: Callable[..., Any]) -> None:
    """worker_launch_method='manual': the user starts vine_worker against the manager."""
    import subprocess

    port = free_port()
    ex = TaskVineExecutor(worker_launch_method="manual",
                          manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1"))
    dfk = load_config(ex)
    assert ex.provider is None
    worker = subprocess.Popen(["vine_worker", "--single-shot", "--timeout=60", "127.0.0.1",
                               str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        assert tv_apps.double(6).result(timeout=90) == 12
        dfk.cleanup()
        worker.wait(30)  # TimeoutExpired here means the worker outlived the manager
    finally:
        worker.kill()
    assert_nothing_left(port)
