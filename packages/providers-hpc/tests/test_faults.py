"""Scheduler commands that are missing, hang, fail or print nonsense never hang Parsl.

These use stand-in sbatch/squeue/scancel scripts (see conftest.StandIns), since the point is
behaviour real Slurm does not produce on demand: a hung client, garbage output.
"""
from __future__ import annotations

import logging
import time

import pytest

from parsl.jobs.states import JobState
from parsl.launchers.launchers import SimpleLauncher
from parsl.providers.errors import SubmitException
from parsl_hpc.slurm import SlurmProvider


def make_provider(script_dir: str, **kwargs: object) -> SlurmProvider:
    options: dict = {"exclusive": False, "launcher": SimpleLauncher(), "cmd_timeout": 5}
    options.update(kwargs)
    provider = SlurmProvider(**options)  # type: ignore[arg-type]
    provider.script_dir = script_dir
    return provider


def test_missing_sbatch_raises_submit_exception_naming_the_command(script_dir, monkeypatch,
                                                                   tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    provider = make_provider(script_dir)

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1)

    assert "sbatch was not found on PATH" in str(info.value)
    assert info.value.retcode == 127


def test_sbatch_exceeding_cmd_timeout_raises_without_hanging(script_dir, stand_ins):
    stand_ins.add("sbatch", stdout="Submitted batch job 1\n", sleep=60)
    provider = make_provider(script_dir, cmd_timeout=1)

    started = time.monotonic()
    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1)

    assert time.monotonic() - started < 30
    assert "cmd_timeout=1" in str(info.value)


def test_sbatch_output_without_job_id_raises_submit_exception(script_dir, stand_ins, caplog):
    stand_ins.add("sbatch", stdout="sbatch: warning: something odd happened\n")
    provider = make_provider(script_dir)

    with caplog.at_level(logging.ERROR, logger="parsl_hpc"), \
            pytest.raises(SubmitException) as info:
        provider.submit("true", 1)

    assert "could not find a job id" in str(info.value)
    assert "something odd" in caplog.text


def test_sbatch_non_zero_exit_puts_exit_code_and_stderr_in_error(script_dir, stand_ins):
    stand_ins.add("sbatch", stderr="sbatch: error: Batch job submission failed: "
                                   "Invalid account or account/partition combination "
                                   "specified\n", exit_code=1)
    provider = make_provider(script_dir, account="nobody")

    with pytest.raises(SubmitException) as info:
        provider.submit("true", 1)

    assert info.value.retcode == 1
    assert "Invalid account" in str(info.value)


def test_custom_regex_job_id_reads_site_specific_sbatch_output(script_dir, stand_ins):
    stand_ins.add("sbatch", stdout="Your job has id=777 on cluster x\n")
    provider = make_provider(script_dir, regex_job_id=r"id=(?P<id>\d+)")

    assert provider.submit("true", 1) == "777"


def test_failed_squeue_makes_status_unknown_with_reason(script_dir, stand_ins, caplog):
    stand_ins.add("sbatch", stdout="Submitted batch job 41\n")
    stand_ins.add("squeue", stderr="squeue: error: Unable to contact slurm controller\n",
                  exit_code=1)
    provider = make_provider(script_dir)
    job_id = provider.submit("true", 1)

    with caplog.at_level(logging.WARNING, logger="parsl_hpc"):
        status = provider.status([job_id])[0]

    assert status.state is JobState.UNKNOWN
    assert "Unable to contact slurm controller" in (status.message or "")
    assert "Unable to contact" in caplog.text


def test_hung_squeue_makes_status_unknown_within_cmd_timeout(script_dir, stand_ins):
    stand_ins.add("sbatch", stdout="Submitted batch job 42\n")
    stand_ins.add("squeue", stdout="42|RUNNING|None\n", sleep=60)
    provider = make_provider(script_dir, cmd_timeout=1)
    job_id = provider.submit("true", 1)

    started = time.monotonic()
    status = provider.status([job_id])[0]

    assert time.monotonic() - started < 30
    assert status.state is JobState.UNKNOWN


def test_unparsable_squeue_output_is_unknown_not_completed(script_dir, stand_ins):
    stand_ins.add("sbatch", stdout="Submitted batch job 43\n")
    stand_ins.add("squeue", stdout="this is not squeue output at all\n")
    provider = make_provider(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is JobState.UNKNOWN


def test_failed_scancel_returns_false_and_logs(script_dir, stand_ins, caplog):
    stand_ins.add("sbatch", stdout="Submitted batch job 44\n")
    stand_ins.add("scancel", stderr="scancel: error: Kill job error on job id 44: "
                                    "Access/permission denied\n", exit_code=1)
    provider = make_provider(script_dir)
    job_id = provider.submit("true", 1)

    with caplog.at_level(logging.ERROR, logger="parsl_hpc"):
        assert provider.cancel([job_id]) == [False]

    assert "permission denied" in caplog.text


def test_clusters_option_is_passed_to_every_slurm_command(script_dir, stand_ins):
    stand_ins.add("sbatch", stdout="Submitted batch job 45 on cluster blue\n")
    stand_ins.add("squeue", stdout="CLUSTER: blue\n45|PENDING|Priority\n")
    stand_ins.add("scancel")
    provider = make_provider(script_dir, clusters="blue")

    job_id = provider.submit("true", 1)
    status = provider.status([job_id])[0]
    provider.cancel([job_id])

    assert job_id == "45"
    assert status.state is JobState.PENDING and "Priority" in (status.message or "")
    for command in ("sbatch", "squeue", "scancel"):
        assert "--clusters=blue" in stand_ins.calls(command)[0]


def test_status_of_job_not_submitted_here_is_unknown(script_dir):
    provider = make_provider(script_dir)
    assert provider.status(["999999"])[0].state is JobState.UNKNOWN
