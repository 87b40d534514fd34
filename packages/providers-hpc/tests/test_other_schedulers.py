"""LSF, HTCondor, Grid Engine and PBS Pro providers against stand-in commands.

None of these schedulers can run on this machine, so each test puts stand-in scripts
(bsub/bjobs/bkill, condor_submit/condor_q/condor_rm, qsub/qstat/qdel) first on PATH. They
print the output formats the real tools document - including their error messages - and
record how they were called. What is tested is the provider's side: the submit script it
renders, the command lines it runs, and how it reads the output.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from parsl.jobs.states import JobState
from parsl.launchers.launchers import SimpleLauncher
from parsl.providers.errors import SubmitException
from parsl_hpc.condor import CondorProvider
from parsl_hpc.grid_engine import GridEngineProvider
from parsl_hpc.lsf import LSFProvider
from parsl_hpc.pbspro import PBSProProvider


def _script(provider, job_id: str) -> str:
    return Path(provider.resources[job_id]["script_path"]).read_text()


# -- LSF --------------------------------------------------------------------------------

def lsf(script_dir: str, **kwargs: object) -> LSFProvider:
    provider = LSFProvider(launcher=SimpleLauncher(), **kwargs)  # type: ignore[arg-type]
    provider.script_dir = script_dir
    return provider


def test_lsf_submit_reads_job_id_from_bsub_message(script_dir, stand_ins):
    stand_ins.add("bsub", stdout="Job <5531> is submitted to queue <batch>.\n")
    provider = lsf(script_dir, project="CSC123", queue="batch", walltime="01:30:00")

    job_id = provider.submit("echo hi", 1)

    assert job_id == "5531"
    script = _script(provider, job_id)
    for line in ("#BSUB -W 90", "#BSUB -P CSC123", "#BSUB -q batch", "#BSUB -nnodes 1"):
        assert line in script
    assert stand_ins.calls("bsub")[0].endswith(".submit")


def test_lsf_bsub_redirection_feeds_script_on_stdin(script_dir, stand_ins):
    stand_ins.add("bsub", stdout="Job <77> is submitted to default queue <normal>.\n")
    provider = lsf(script_dir, bsub_redirection=True)

    job_id = provider.submit("echo via-stdin", 1)

    assert job_id == "77"
    assert "echo via-stdin" in (stand_ins.bin_dir / "bsub.stdin").read_text()


def test_lsf_request_by_cores_renders_n_and_ptile(script_dir, stand_ins):
    stand_ins.add("bsub", stdout="Job <78> is submitted to default queue <normal>.\n")
    provider = lsf(script_dir, request_by_nodes=False, cores_per_block=64, cores_per_node=16)

    script = _script(provider, provider.submit("true", 1))

    assert "#BSUB -n 64" in script and 'span[ptile=16]' in script


def test_lsf_bsub_rejection_raises_with_lsf_message(script_dir, stand_ins):
    stand_ins.add("bsub", stderr="No such queue. Job not submitted.\n", exit_code=255)
    provider = lsf(script_dir, queue="nope")

    with pytest.raises(SubmitException, match="No such queue"):
        provider.submit("true", 1)


@pytest.mark.parametrize(("stat", "expected"), [
    ("PEND", JobState.PENDING), ("RUN", JobState.RUNNING), ("DONE", JobState.COMPLETED),
    ("EXIT", JobState.FAILED), ("PSUSP", JobState.HELD), ("USUSP", JobState.HELD)])
def test_lsf_bjobs_states_map_to_job_states(script_dir, stand_ins, stat, expected):
    stand_ins.add("bsub", stdout="Job <100> is submitted to default queue <normal>.\n")
    stand_ins.add("bjobs", stdout=f"100 {stat}\n")
    provider = lsf(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is expected


def test_lsf_job_bjobs_no_longer_finds_is_completed(script_dir, stand_ins):
    stand_ins.add("bsub", stdout="Job <101> is submitted to default queue <normal>.\n")
    stand_ins.add("bjobs", stderr="Job <101> is not found\n", exit_code=255)
    provider = lsf(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is JobState.COMPLETED


def test_lsf_cancel_runs_bkill_with_the_job_ids(script_dir, stand_ins):
    stand_ins.add("bsub", stdout="Job <102> is submitted to default queue <normal>.\n")
    stand_ins.add("bkill", stdout="Job <102> is being terminated\n")
    provider = lsf(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.cancel([job_id]) == [True]
    assert stand_ins.calls("bkill") == ["102"]
    assert provider.status([job_id])[0].state is JobState.CANCELLED


# -- HTCondor ---------------------------------------------------------------------------

def condor(script_dir: str, **kwargs: object) -> CondorProvider:
    provider = CondorProvider(launcher=SimpleLauncher(), **kwargs)  # type: ignore[arg-type]
    provider.script_dir = script_dir
    return provider


_CONDOR_SUBMITTED = "Submitting job(s).\n1 job(s) submitted to cluster 314.\n"


def test_condor_submit_writes_description_and_job_script(script_dir, stand_ins):
    stand_ins.add("condor_submit", stdout=_CONDOR_SUBMITTED)
    provider = condor(script_dir, requirements='OpSys == "LINUX"', cores_per_slot=4,
                      environment={"OMP_NUM_THREADS": "4"},
                      transfer_input_files=["/data/a.txt", "/data/b.txt"],
                      worker_init="module load python")

    job_id = provider.submit("process_worker_pool.py", 1)

    assert job_id == "314"
    description = _script(provider, job_id)
    executable = description.split("executable = ", 1)[1].splitlines()[0]
    job_script = Path(executable).read_text()
    assert "module load python" in job_script and "process_worker_pool.py" in job_script
    for line in ('requirements = OpSys == "LINUX"', "request_cpus = 4",
                 "transfer_input_files = /data/a.txt, /data/b.txt",
                 "environment = \"OMP_NUM_THREADS='4'\"", "queue 1"):
        assert line in description


@pytest.mark.parametrize(("row", "expected"), [
    ("314.0 1 undefined", JobState.PENDING), ("314.0 2 undefined", JobState.RUNNING),
    ("314.0 5 undefined", JobState.HELD), ("314.0 3 undefined", JobState.CANCELLED),
    ("314.0 4 0", JobState.COMPLETED), ("314.0 4 2", JobState.FAILED)])
def test_condor_q_job_status_codes_map_to_job_states(script_dir, stand_ins, row, expected):
    stand_ins.add("condor_submit", stdout=_CONDOR_SUBMITTED)
    stand_ins.add("condor_q", stdout=row + "\n")
    provider = condor(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is expected


def test_condor_submit_error_raises_with_condor_message(script_dir, stand_ins):
    stand_ins.add("condor_submit", stderr="ERROR: Can't find address of local schedd\n",
                  exit_code=1)
    provider = condor(script_dir)

    with pytest.raises(SubmitException, match="local schedd"):
        provider.submit("true", 1)


def test_condor_cancel_runs_condor_rm(script_dir, stand_ins):
    stand_ins.add("condor_submit", stdout=_CONDOR_SUBMITTED)
    stand_ins.add("condor_rm", stdout="All jobs in cluster 314 have been marked for "
                                      "removal\n")
    provider = condor(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.cancel([job_id]) == [True]
    assert stand_ins.calls("condor_rm") == ["314"]


# -- Grid Engine ------------------------------------------------------------------------

def grid_engine(script_dir: str, **kwargs: object) -> GridEngineProvider:
    provider = GridEngineProvider(launcher=SimpleLauncher(), **kwargs)  # type: ignore[arg-type]
    provider.script_dir = script_dir
    return provider


_SGE_QSTAT = """job-ID  prior   name       user         state submit/start at     queue                          slots ja-task-ID
-----------------------------------------------------------------------------------------------------------------
    271 0.55500 parsl.grid root         {state}    11/23/2026 12:00:00 all.q@node1                        1
"""  # noqa: E501 - qstat's fixed-width table


def test_grid_engine_submit_uses_terse_qsub_and_renders_queue(script_dir, stand_ins):
    stand_ins.add("qsub", stdout="271\n")
    provider = grid_engine(script_dir, queue="all.q", walltime="02:00:00")

    job_id = provider.submit("true", 1)

    assert job_id == "271"
    assert stand_ins.calls("qsub")[0].startswith("-terse ")
    script = _script(provider, job_id)
    assert "#$ -q all.q" in script and "#$ -l h_rt=02:00:00" in script


@pytest.mark.parametrize(("state", "expected"), [
    ("qw", JobState.PENDING), ("hqw", JobState.HELD), ("r", JobState.RUNNING),
    ("Eqw", JobState.FAILED), ("dr", JobState.CANCELLED), ("t", JobState.RUNNING)])
def test_grid_engine_qstat_states_map_to_job_states(script_dir, stand_ins, state, expected):
    stand_ins.add("qsub", stdout="271\n")
    stand_ins.add("qstat", stdout=_SGE_QSTAT.format(state=state))
    provider = grid_engine(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is expected


def test_grid_engine_unknown_state_letter_is_unknown_and_logged(script_dir, stand_ins,
                                                                 caplog):
    stand_ins.add("qsub", stdout="271\n")
    stand_ins.add("qstat", stdout=_SGE_QSTAT.format(state="zq"))
    provider = grid_engine(script_dir)
    job_id = provider.submit("true", 1)

    with caplog.at_level(logging.WARNING, logger="parsl_hpc"):
        assert provider.status([job_id])[0].state is JobState.UNKNOWN
    assert "'zq'" in caplog.text


def test_grid_engine_job_gone_from_qstat_is_completed(script_dir, stand_ins):
    stand_ins.add("qsub", stdout="271\n")
    stand_ins.add("qstat", stdout="")
    provider = grid_engine(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is JobState.COMPLETED


# -- PBS Pro ----------------------------------------------------------------------------

def pbspro(script_dir: str, **kwargs: object) -> PBSProProvider:
    provider = PBSProProvider(launcher=SimpleLauncher(), **kwargs)  # type: ignore[arg-type]
    provider.script_dir = script_dir
    return provider


def _pbs_json(job_id: str, **fields: object) -> str:
    return json.dumps({"timestamp": 1795430000, "pbs_version": "2022.1.0",
                       "pbs_server": "pbs01", "Jobs": {job_id: fields}})


def test_pbspro_submit_renders_select_with_cpus_and_options(script_dir, stand_ins):
    stand_ins.add("qsub", stdout="1234.pbs01\n")
    provider = pbspro(script_dir, nodes_per_block=2, cpus_per_node=64,
                      select_options="ngpus=4", account="ACCT", queue="debug")

    job_id = provider.submit("true", 1)

    assert job_id == "1234.pbs01"
    script = _script(provider, job_id)
    for line in ("#PBS -l select=2:ncpus=64:ngpus=4", "#PBS -A ACCT", "#PBS -q debug"):
        assert line in script


@pytest.mark.parametrize(("fields", "expected"), [
    ({"job_state": "Q"}, JobState.PENDING), ({"job_state": "R"}, JobState.RUNNING),
    ({"job_state": "H"}, JobState.HELD),
    ({"job_state": "F", "Exit_status": 0}, JobState.COMPLETED),
    ({"job_state": "F", "Exit_status": 271}, JobState.FAILED)])
def test_pbspro_qstat_json_states_map_to_job_states(script_dir, stand_ins, fields,
                                                    expected):
    stand_ins.add("qsub", stdout="1234.pbs01\n")
    stand_ins.add("qstat", stdout=_pbs_json("1234.pbs01", **fields))
    provider = pbspro(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is expected


def test_pbspro_unknown_job_id_from_qstat_is_completed(script_dir, stand_ins):
    stand_ins.add("qsub", stdout="1234.pbs01\n")
    stand_ins.add("qstat", stderr="qstat: Unknown Job Id 1234.pbs01\n", exit_code=153)
    provider = pbspro(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is JobState.COMPLETED


def test_pbspro_malformed_json_is_unknown(script_dir, stand_ins):
    stand_ins.add("qsub", stdout="1234.pbs01\n")
    stand_ins.add("qstat", stdout='{"Jobs": {"1234.pbs01": ')
    provider = pbspro(script_dir)
    job_id = provider.submit("true", 1)

    assert provider.status([job_id])[0].state is JobState.UNKNOWN


def test_pbspro_qsub_rejection_raises_with_message(script_dir, stand_ins):
    stand_ins.add("qsub", stderr="qsub: Unknown queue\n", exit_code=170)
    provider = pbspro(script_dir, queue="nope")

    with pytest.raises(SubmitException, match="Unknown queue"):
        provider.submit("true", 1)
