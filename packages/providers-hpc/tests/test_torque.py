"""TorqueProvider for real, through Debian's slurm-wlm-torque qsub/qstat/qdel wrappers.

The wrappers translate Torque's commands onto the local Slurm cluster and print Torque's
output formats, so the provider's command lines and parsing are exercised against real
jobs.
"""
from __future__ import annotations

import shutil

import pytest

from parsl.jobs.states import JobState
from parsl.launchers.launchers import SimpleLauncher
from parsl_hpc.torque import TorqueProvider

pytestmark = pytest.mark.slurm


@pytest.fixture
def torque(slurm_cluster, script_dir) -> TorqueProvider:
    if shutil.which("qsub") is None:
        pytest.skip("TORQUE WRAPPERS NOT AVAILABLE: qsub is not on PATH; "
                    ".ci/setup-slurm.sh installs slurm-wlm-torque")
    provider = TorqueProvider(launcher=SimpleLauncher(), walltime="00:05:00",
                              cmd_timeout=30)
    provider.script_dir = script_dir
    return provider


def test_torque_job_really_runs_and_is_reported_completed(torque, tmp_path, wait):
    marker = tmp_path / "torque.txt"
    job_id = torque.submit(f"echo from-torque > {marker}", 1)

    status = wait(lambda: (s := torque.status([job_id])[0]).terminal and s,
                  what="the Torque job to finish")

    assert status.state is JobState.COMPLETED
    assert marker.read_text().strip() == "from-torque"


def test_torque_job_output_lands_in_script_dir(torque, wait):
    job_id = torque.submit("echo torque-stdout", 1)

    status = wait(lambda: (s := torque.status([job_id])[0]).terminal and s,
                  what="the Torque job to finish")

    assert "torque-stdout" in (status.stdout or "")


def test_torque_cancel_really_ends_a_running_job(torque, wait, squeue):
    job_id = torque.submit("sleep 300", 1)
    wait(lambda: torque.status([job_id])[0].state is JobState.RUNNING,
         what="the Torque job to run")

    assert torque.cancel([job_id]) == [True]

    wait(lambda: squeue(job_id) in ("CANCELLED", ""), what="Slurm to end the job")
