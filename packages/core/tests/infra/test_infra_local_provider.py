"""LocalProvider runs real block scripts: submit, status, cancel, failure reporting."""
from __future__ import annotations

import os
from typing import Iterator, List

import psutil
import pytest

from parsl.errors import BadParameter
from parsl.jobs.states import JobState
from parsl.launchers.base import Launcher
from parsl.launchers.launchers import SimpleLauncher, SingleNodeLauncher
from parsl.providers.local.local import LocalProvider


@pytest.fixture
def provider(tmp_path) -> Iterator[LocalProvider]:
    """A LocalProvider writing into tmp_path; every job it started is cancelled afterwards."""
    p = LocalProvider(launcher=SimpleLauncher(), cmd_timeout=5)
    p.script_dir = str(tmp_path)
    yield p
    p.cancel(list(p.resources))


def state_of(provider: LocalProvider, job_id: str) -> JobState:
    return provider.status([job_id])[0].state


def test_submitted_script_runs_and_completes(provider, tmp_path, wait) -> None:
    marker = tmp_path / "ran.txt"
    job_id = provider.submit(f"echo hello > {marker}", 1, "parsl.test.block-0")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert marker.read_text() == "hello\n"


def test_running_script_is_reported_running(provider, wait) -> None:
    job_id = provider.submit("sleep 300", 1, "parsl.test.block-0")
    assert state_of(provider, job_id) == JobState.RUNNING


def test_block_script_runs_worker_init_before_the_command(provider, tmp_path, wait) -> None:
    provider.worker_init = "export GREETING=from-worker-init"
    out = tmp_path / "env.txt"
    job_id = provider.submit(f'echo "$GREETING" > {out}', 1, "parsl.test.block-0")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert out.read_text() == "from-worker-init\n"


def test_script_and_output_files_are_named_after_the_job(provider, tmp_path, wait) -> None:
    job_id = provider.submit("echo out; echo err >&2", 1, "parsl.test.block-7")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert (tmp_path / "parsl.test.block-7.sh").exists()
    assert (tmp_path / "parsl.test.block-7.stdout").read_text() == "out\n"
    assert (tmp_path / "parsl.test.block-7.stderr").read_text() == "err\n"
    assert (tmp_path / "parsl.test.block-7.ec").read_text().strip() == "0"


def test_two_jobs_with_one_name_get_separate_files(provider, tmp_path, wait) -> None:
    first = provider.submit("echo first", 1, "same-name")
    second = provider.submit("echo second", 1, "same-name")
    wait(lambda: all(s.state == JobState.COMPLETED for s in provider.status([first, second])),
         what="both COMPLETED")
    assert (tmp_path / "same-name.stdout").read_text() == "first\n"
    assert (tmp_path / "same-name.1.stdout").read_text() == "second\n"


def test_failing_script_reports_exit_code_and_stderr(provider, wait) -> None:
    job_id = provider.submit("echo 'worker: cannot import numpy' >&2; exit 7", 1,
                             "parsl.test.block-0")
    status = wait(lambda: next((s for s in provider.status([job_id]) if s.terminal), None),
                  what="a terminal status")
    assert status.state == JobState.FAILED
    assert status.exit_code == 7
    assert "exited with code 7" in status.message
    assert "cannot import numpy" in status.stderr


def test_unknown_job_id_is_missing(provider) -> None:
    assert state_of(provider, "999999") == JobState.MISSING


def test_cancel_stops_the_whole_process_tree(provider, wait, group_members) -> None:
    job_id = provider.submit("sleep 300 & bash -c 'sleep 300 & wait' & wait", 1,
                             "parsl.test.block-0")
    pgid = int(job_id)
    members = wait(lambda: len(group_members(pgid)) >= 4 and group_members(pgid),
                   what="the block's process tree")
    pids: List[int] = [p.pid for p in members]

    assert provider.cancel([job_id]) == [True]

    assert state_of(provider, job_id) == JobState.CANCELLED
    assert group_members(pgid) == []
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_cancel_kills_a_block_that_ignores_sigterm(provider, group_members) -> None:
    provider.cancel_grace_period = 0.5
    job_id = provider.submit("trap '' TERM; sleep 300", 1, "parsl.test.block-0")

    assert provider.cancel([job_id]) == [True]

    assert group_members(int(job_id)) == []
    assert state_of(provider, job_id) == JobState.CANCELLED


def test_cancel_of_a_finished_job_is_accepted_and_keeps_its_state(provider, wait) -> None:
    job_id = provider.submit("true", 1, "parsl.test.block-0")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert provider.cancel([job_id]) == [True]
    assert state_of(provider, job_id) == JobState.COMPLETED


def test_cancel_of_an_unknown_job_is_refused(provider) -> None:
    assert provider.cancel(["999999"]) == [False]


def test_default_launcher_is_single_node_and_runs_tasks_per_node_copies(tmp_path, wait) -> None:
    provider = LocalProvider()
    assert isinstance(provider.launcher, SingleNodeLauncher)
    provider.script_dir = str(tmp_path)
    job_id = provider.submit(f'echo "copy $1" >> {tmp_path}/copies.txt', 3, "parsl.test.block-0")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert (tmp_path / "copies.txt").read_text().count("copy") == 3


def test_without_script_dir_a_private_temporary_folder_is_used(wait) -> None:
    provider = LocalProvider(launcher=SimpleLauncher())
    job_id = provider.submit("true", 1, "parsl.test.block-0")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert provider.script_dir is not None
    assert os.path.exists(os.path.join(provider.script_dir, "parsl.test.block-0.sh"))


def test_defaults_match_parsl() -> None:
    p = LocalProvider()
    assert (p.nodes_per_block, p.init_blocks, p.min_blocks, p.max_blocks, p.worker_init,
            p.cmd_timeout, p.parallelism) == (1, 1, 0, 1, "", 30, 1)
    assert p.status_polling_interval == 5


@pytest.mark.parametrize("kwargs, parameter", [
    ({"nodes_per_block": "2"}, "nodes_per_block"),
    ({"launcher": "srun"}, "launcher"),
    ({"worker_init": ["source env"]}, "worker_init"),
    ({"init_blocks": -1}, "init_blocks"),
    ({"min_blocks": 2, "max_blocks": 1}, "max_blocks"),
    ({"parallelism": 2}, "parallelism"),
    ({"cmd_timeout": 0}, "cmd_timeout"),
])
def test_bad_parameters_are_rejected_naming_the_parameter(kwargs, parameter) -> None:
    with pytest.raises(BadParameter) as info:
        LocalProvider(**kwargs)
    assert info.value.parameter == parameter
    assert "LocalProvider" in str(info.value)


class _RecordingLauncher(Launcher):
    """A launcher written against current Parsl: records the script_dir it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.script_dirs: List[str] = []

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        self.script_dirs.append(script_dir)
        return command


class _ThreeArgumentLauncher(Launcher):
    """A launcher written against Parsl 1.x, whose __call__ has no script_dir."""

    def __call__(self, command, tasks_per_node, nodes_per_block):  # type: ignore[override]
        return command


def test_provider_passes_its_script_dir_to_the_launcher(tmp_path, wait) -> None:
    launcher = _RecordingLauncher()
    provider = LocalProvider(launcher=launcher)
    provider.script_dir = str(tmp_path)
    job_id = provider.submit("true", 1, "parsl.test.block-0")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert launcher.script_dirs == [str(tmp_path)]


def test_provider_still_runs_a_launcher_without_script_dir(tmp_path, wait) -> None:
    provider = LocalProvider(launcher=_ThreeArgumentLauncher())
    provider.script_dir = str(tmp_path)
    job_id = provider.submit(f"touch {tmp_path}/ran", 1, "parsl.test.block-0")
    wait(lambda: state_of(provider, job_id) == JobState.COMPLETED, what="COMPLETED")
    assert (tmp_path / "ran").exists()
