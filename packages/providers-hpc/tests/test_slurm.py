"""SlurmProvider against the real one-node Slurm cluster started by .ci/setup-slurm.sh.

Every test here submits real jobs with the real sbatch/squeue/scancel, except where a
docstring says a stand-in command replaces one of them to produce output real Slurm
cannot be made to print on demand.
"""
from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from parsl.jobs.states import JobState
from parsl.launchers.launchers import SimpleLauncher
from parsl.providers.errors import SubmitException
from parsl_hpc.slurm import SlurmProvider

pytestmark = pytest.mark.slurm


def make_provider(script_dir: str, **kwargs: object) -> SlurmProvider:
    options: dict = {"exclusive": False, "walltime": "00:05:00",
                     "launcher": SimpleLauncher(), "cmd_timeout": 30}
    options.update(kwargs)
    provider = SlurmProvider(**options)  # type: ignore[arg-type]
    provider.script_dir = script_dir
    return provider


def test_submitted_job_really_runs_and_is_reported_completed(slurm_cluster, script_dir,
                                                            tmp_path, wait):
    provider = make_provider(script_dir)
    marker = tmp_path / "ran.txt"
    job_id = provider.submit(f"echo ran on $(hostname) > {marker}", 1)

    status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                  what="the job to finish")

    assert status.state is JobState.COMPLETED
    assert marker.read_text().startswith("ran on")


def test_job_script_is_written_to_script_dir_as_job_name_submit(slurm_cluster, script_dir,
                                                                wait):
    provider = make_provider(script_dir)
    job_id = provider.submit("true", 1, job_name="parsl.myblock")

    script = Path(provider.resources[job_id]["script_path"])
    assert script.parent == Path(script_dir)
    assert script.name.startswith("parsl.myblock.") and script.suffix == ".submit"
    assert "#SBATCH --job-name=" in script.read_text()
    wait(lambda: provider.status([job_id])[0].terminal, what="the job to finish")


def test_job_output_goes_to_stdout_file_next_to_script(slurm_cluster, script_dir, wait):
    provider = make_provider(script_dir)
    job_id = provider.submit("echo to-stdout; echo to-stderr >&2", 1)

    status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                  what="the job to finish")

    assert "to-stdout" in (status.stdout or "")
    assert "to-stderr" in (status.stderr or "")


def test_status_reports_running_while_the_job_runs(slurm_cluster, script_dir, wait):
    provider = make_provider(script_dir)
    job_id = provider.submit("sleep 60", 1)
    try:
        status = wait(lambda: (s := provider.status([job_id])[0]).state is JobState.RUNNING
                      and s, what="the job to run")
        assert status.state is JobState.RUNNING
    finally:
        provider.cancel([job_id])


def test_cancel_really_ends_a_running_job(slurm_cluster, script_dir, wait, squeue):
    provider = make_provider(script_dir)
    job_id = provider.submit("sleep 300", 1)
    wait(lambda: squeue(job_id) == "RUNNING", what="the job to start")

    assert provider.cancel([job_id]) == [True]

    wait(lambda: squeue(job_id) in ("CANCELLED", ""), what="Slurm to end the job")
    assert provider.status([job_id])[0].state is JobState.CANCELLED


def test_bad_partition_raises_submit_exception_carrying_sbatch_message(slurm_cluster,
                                                                       script_dir):
    provider = make_provider(script_dir, partition="no_such_partition")

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1)

    error = info.value
    assert error.retcode not in (0, None)
    assert "invalid partition" in (error.stderr or "").lower()
    assert "sbatch" in str(error) and "no_such_partition" in str(error)


@pytest.mark.slow
def test_job_that_reaches_its_time_limit_is_reported_timeout(slurm_cluster, script_dir,
                                                             wait):
    """A real TIMEOUT from Slurm, made fast.

    Slurm's shortest time limit is one minute, so the job is submitted with a one-minute
    walltime and its end time is then moved to now with ``scontrol update EndTime``, as an
    administrator can. slurmctld enforces time limits in its periodic check (every 30 s),
    ends the job and records TIMEOUT, which is what squeue and the provider then report.
    """
    provider = make_provider(script_dir, walltime="00:01:00")
    job_id = provider.submit("sleep 300", 1)
    wait(lambda: provider.status([job_id])[0].state is JobState.RUNNING,
         what="the job to run")

    # slurmctld refuses ("Invalid time specified") an end time before the start time it
    # has recorded, and it records the start again when the job finishes configuring,
    # which can be a second after squeue first says RUNNING: retry, bounded.
    def end_now() -> bool:
        done = subprocess.run(["scontrol", "update", f"JobId={job_id}", "EndTime=now"],
                              capture_output=True, text=True, timeout=30, check=False)
        return done.returncode == 0

    try:
        wait(end_now, timeout=30, what="scontrol to accept EndTime=now")
        status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                      timeout=90, what="Slurm to end the job at its time limit")
    finally:
        provider.cancel([job_id])  # a failure here must not hold the node for later tests
    assert status.state is JobState.TIMEOUT


def test_failing_job_script_is_reported_failed(slurm_cluster, script_dir, wait):
    provider = make_provider(script_dir)
    job_id = provider.submit("exit 3", 1)

    status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                  what="the job to finish")

    assert status.state is JobState.FAILED


def test_squeue_state_never_seen_before_is_unknown_and_logged(slurm_cluster, script_dir,
                                                              stand_ins, caplog):
    """The job is submitted to real Slurm; a stand-in squeue then reports a state name no
    Slurm release has (real squeue cannot be made to print one)."""
    provider = make_provider(script_dir)
    job_id = provider.submit("true", 1)
    stand_ins.add("squeue", stdout=f"{job_id}|QUANTUM_ENTANGLED|None\n")

    with caplog.at_level(logging.WARNING, logger="parsl_hpc"):
        status = provider.status([job_id])[0]

    assert status.state is JobState.UNKNOWN
    assert "QUANTUM_ENTANGLED" in caplog.text


def test_jobs_squeue_has_forgotten_are_reported_completed(slurm_cluster, script_dir,
                                                          stand_ins):
    """Stand-in squeue: real slurmctld forgets finished jobs only after MinJobAge (300 s).
    squeue then fails with exactly this message, which the provider must read as 'gone'."""
    provider = make_provider(script_dir)
    job_id = provider.submit("true", 1)
    stand_ins.add("squeue", stderr="slurm_load_jobs error: Invalid job id specified\n",
                  exit_code=1)

    assert provider.status([job_id])[0].state is JobState.COMPLETED


def test_submit_script_carries_the_requested_resources(slurm_cluster, script_dir, wait):
    provider = make_provider(script_dir, partition="debug", cores_per_node=2, mem_per_node=1,
                             scheduler_options="#SBATCH --comment=parsl-test",
                             worker_init="export FROM_WORKER_INIT=yes")
    job_id = provider.submit("echo cores=$PARSL_CORES init=$FROM_WORKER_INIT", 1)

    status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                  what="the job to finish")

    assert status.state is JobState.COMPLETED
    assert "cores=2 init=yes" in (status.stdout or "")
    script = Path(provider.resources[job_id]["script_path"]).read_text()
    for line in ("#SBATCH --partition=debug", "#SBATCH --cpus-per-task=2",
                 "#SBATCH --mem=1g", "#SBATCH --comment=parsl-test"):
        assert line in script
    assert "--exclusive" not in script


def test_status_of_several_jobs_is_returned_in_request_order(slurm_cluster, script_dir,
                                                             wait):
    provider = make_provider(script_dir)
    quick = provider.submit("true", 1)
    slow = provider.submit("sleep 120", 1)
    try:
        wait(lambda: provider.status([quick])[0].terminal, what="the quick job to finish")
        states = [s.state for s in provider.status([slow, quick])]
        assert states[1] is JobState.COMPLETED
        assert states[0] in (JobState.PENDING, JobState.RUNNING)
    finally:
        provider.cancel([slow])


def test_submit_script_is_kept_for_debugging(slurm_cluster, script_dir):
    provider = make_provider(script_dir)
    job_id = provider.submit("true", 1)
    assert os.path.exists(provider.resources[job_id]["script_path"])


def test_script_dir_and_job_name_with_spaces_and_shell_characters(slurm_cluster, tmp_path,
                                                                   wait):
    """sbatch, squeue and scancel get quoted paths: a run directory with spaces and ``$``
    (and a job name built from a label like ``my htex``) still submits and runs."""
    script_dir = tmp_path / "run dir $HOME ;x"
    script_dir.mkdir()
    provider = make_provider(str(script_dir))
    marker = tmp_path / "ran.txt"
    job_id = provider.submit(f"echo ran > {marker}", 1, job_name="parsl.my_htex.block-0")
    status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                  what="the job to finish")
    assert status.state is JobState.COMPLETED, status.message
    assert marker.read_text() == "ran\n"
    assert provider.cancel([job_id]) == [True]
