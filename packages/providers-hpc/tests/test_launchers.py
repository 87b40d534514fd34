"""Launchers produce shell text that really starts the requested copies of a command.

SrunLauncher runs inside a real Slurm job. The other launchers' programs (mpirun, aprun,
jsrun, mpiexec) do not exist here; their tests run the generated text with a stand-in that
executes the command file as many times as ``-np``/``-n`` asks, and check the options.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from parsl.errors import BadParameter
from parsl.jobs.states import JobState
from parsl_hpc.launchers import (
    AprunLauncher,
    JsrunLauncher,
    MpiExecLauncher,
    MpiRunLauncher,
    SrunLauncher,
    WrappedLauncher,
)
from parsl_hpc.slurm import SlurmProvider


def run_script(text: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", text], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.slurm
def test_srun_launcher_starts_tasks_per_node_copies_in_a_slurm_job(slurm_cluster,
                                                                   script_dir, tmp_path,
                                                                   wait, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the job starts here and SrunLauncher writes its file here
    provider = SlurmProvider(exclusive=False, walltime="00:05:00", cmd_timeout=30,
                             launcher=SrunLauncher())
    provider.script_dir = script_dir
    out = tmp_path / "copies"
    out.mkdir()
    job_id = provider.submit(f"touch {out}/copy_$SLURM_PROCID", 2)

    status = wait(lambda: (s := provider.status([job_id])[0]).terminal and s,
                  what="the srun job to finish")

    assert status.state is JobState.COMPLETED, status.stderr
    assert sorted(p.name for p in out.iterdir()) == ["copy_0", "copy_1"]


def _counting_stand_in(bin_dir: Path, name: str, count_flag: str) -> None:
    """A launcher stand-in: runs its last argument (the command file) ``count_flag`` times."""
    script = bin_dir / name
    script.write_text(
        "#!/bin/bash\n"
        f'echo "$*" > "{bin_dir}/{name}.args"\n'
        "n=1; prev=''\n"
        f'for a in "$@"; do [ "$prev" = "{count_flag}" ] && n=$a; prev=$a; done\n'
        'file="${!#}"\n'
        'for i in $(seq 1 "$n"); do bash "$file" "$i"; done\n')
    script.chmod(0o755)


@pytest.mark.parametrize(("launcher", "program", "flag"), [
    (MpiRunLauncher(overrides="--oversubscribe"), "mpirun", "-np"),
    (AprunLauncher(overrides="-cc none"), "aprun", "-n"),
    (JsrunLauncher(overrides="--smpiargs=none"), "jsrun", "-n"),
    (MpiExecLauncher(overrides="--verbose"), "mpiexec", "-n"),
])
def test_parallel_launcher_runs_command_total_copies_with_overrides(
        launcher, program, flag, stand_ins, tmp_path):
    _counting_stand_in(stand_ins.bin_dir, program, flag)
    work = tmp_path / "work"
    work.mkdir()

    result = run_script(launcher("echo copy >> copies.txt", 2, 3), work)

    assert result.returncode == 0, result.stderr
    assert (work / "copies.txt").read_text().count("copy") == 6
    args = (stand_ins.bin_dir / f"{program}.args").read_text()
    assert launcher.overrides in args


def test_launcher_keeps_command_variables_for_run_time(stand_ins, tmp_path):
    _counting_stand_in(stand_ins.bin_dir, "mpirun", "-np")
    work = tmp_path / "work"
    work.mkdir()

    result = run_script(MpiRunLauncher()("echo value=$1 >> vars.txt", 1, 1), work)

    assert result.returncode == 0, result.stderr
    assert (work / "vars.txt").read_text().strip() == "value=1"


def test_wrapped_launcher_prepends_its_text_to_the_command(tmp_path):
    text = WrappedLauncher(prepend="env WRAPPED=yes")("printenv WRAPPED", 1, 1)

    result = run_script(text, tmp_path)

    assert result.stdout.strip() == "yes"


def test_wrapped_launcher_logs_that_it_ignores_several_tasks(caplog):
    WrappedLauncher(prepend="time")("true", 4, 1)
    assert "ignores tasks per node (tasks_per_node=4)" in caplog.text


def test_srun_launcher_asks_srun_for_every_copy():
    text = SrunLauncher(overrides="--mpi=pmix")("worker", 4, 2)
    assert "srun --ntasks=8 --ntasks-per-node=4 -l --mpi=pmix" in text


def test_launcher_rejects_zero_tasks_per_node():
    with pytest.raises(BadParameter, match="tasks_per_node"):
        SrunLauncher()("worker", 0, 1)


def test_launcher_rejects_wrongly_typed_overrides():
    with pytest.raises(BadParameter, match="overrides"):
        SrunLauncher(overrides=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("launcher", [
    MpiRunLauncher(), AprunLauncher(), JsrunLauncher(), MpiExecLauncher(),
])
def test_launcher_writes_its_command_file_into_the_script_dir_parsl_passes(
        launcher, stand_ins, tmp_path):
    program = {"MpiRunLauncher": "mpirun", "AprunLauncher": "aprun",
               "JsrunLauncher": "jsrun", "MpiExecLauncher": "mpiexec"}[type(launcher).__name__]
    _counting_stand_in(stand_ins.bin_dir, program, "-n" if program != "mpirun" else "-np")
    work, scripts = tmp_path / "work", tmp_path / "submit_scripts"
    work.mkdir()
    scripts.mkdir()

    result = run_script(launcher("echo ran >> ran.txt", 1, 1, str(scripts)), work)

    assert result.returncode == 0, result.stderr
    assert (work / "ran.txt").read_text().strip() == "ran"
    assert [p.name for p in scripts.glob("cmd_*.sh")], list(scripts.iterdir())


def test_launcher_falls_back_to_the_working_folder_when_script_dir_is_missing(
        stand_ins, tmp_path):
    _counting_stand_in(stand_ins.bin_dir, "mpirun", "-np")
    work = tmp_path / "work"
    work.mkdir()

    text = MpiRunLauncher()("echo ran >> ran.txt", 1, 1, str(tmp_path / "not-on-this-node"))
    result = run_script(text, work)

    assert result.returncode == 0, result.stderr
    assert [p.name for p in work.glob("cmd_*.sh")]


def test_launcher_rejects_a_script_dir_that_would_break_the_shell_quoting():
    with pytest.raises(BadParameter, match="script_dir"):
        SrunLauncher()("worker", 1, 1, 'dir"; rm -rf /')
