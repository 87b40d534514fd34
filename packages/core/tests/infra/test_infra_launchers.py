"""SimpleLauncher and SingleNodeLauncher: the shell text they generate, run with bash."""
from __future__ import annotations

import logging
import os
import subprocess

import pytest

from parsl.errors import BadParameter
from parsl.launchers.launchers import SimpleLauncher, SingleNodeLauncher


def run_bash(text: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", "-c", text], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def test_simple_launcher_returns_the_command_unchanged() -> None:
    command = "process_worker_pool.py --block_id=3 'quoted arg'"
    assert SimpleLauncher()(command, 4, 1) == command


def test_simple_launcher_warns_that_multi_node_blocks_get_one_copy(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="parsl.launchers.launchers"):
        SimpleLauncher()("worker", 1, 3)
    assert "3 nodes" in caplog.text


def test_single_node_launcher_runs_tasks_per_node_times_nodes_copies(tmp_path) -> None:
    text = SingleNodeLauncher(debug=False)('echo "copy $1" >> copies.txt', 3, 2)
    result = run_bash(text, str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "copies.txt").read_text().split("\n")
    assert sorted(line for line in lines if line) == sorted(f"copy {n}" for n in range(1, 7))


def test_single_node_launcher_exports_cores(tmp_path) -> None:
    text = SingleNodeLauncher(debug=False)('echo "$CORES" > cores.txt', 1, 1)
    assert run_bash(text, str(tmp_path)).returncode == 0
    assert int((tmp_path / "cores.txt").read_text()) == os.cpu_count()


def test_single_node_launcher_succeeds_when_only_some_copies_fail(tmp_path) -> None:
    text = SingleNodeLauncher(debug=False)('[ "$1" = 2 ] && exit 3; exit 0', 3, 1)
    assert run_bash(text, str(tmp_path)).returncode == 0


def test_single_node_launcher_fails_when_every_copy_fails(tmp_path) -> None:
    text = SingleNodeLauncher(debug=True)("exit 3", 2, 1)
    result = run_bash(text, str(tmp_path))
    assert result.returncode != 0
    assert "all 2 copies failed" in result.stderr


def test_single_node_launcher_without_debug_fails_with_only_the_copies_output(tmp_path) -> None:
    text = SingleNodeLauncher(debug=False)("exit 3", 2, 1)
    result = run_bash(text, str(tmp_path))
    assert result.returncode != 0
    assert (result.stdout, result.stderr) == ("", "")


def test_single_node_launcher_with_fail_on_any_fails_when_one_copy_fails(tmp_path) -> None:
    text = SingleNodeLauncher(debug=True, fail_on_any=True)('[ "$1" = 2 ] && exit 3; exit 0',
                                                            3, 1)
    result = run_bash(text, str(tmp_path))
    assert result.returncode != 0
    assert "1 of 3 copies failed" in result.stderr


def test_single_node_launcher_waits_for_every_copy(tmp_path) -> None:
    text = SingleNodeLauncher(debug=False)('sleep 0.3; echo done >> done.txt', 2, 1)
    assert run_bash(text, str(tmp_path)).returncode == 0
    assert (tmp_path / "done.txt").read_text().count("done") == 2


def test_single_node_launcher_debug_off_prints_nothing_of_its_own(tmp_path) -> None:
    result = run_bash(SingleNodeLauncher(debug=False)("true", 2, 1), str(tmp_path))
    assert result.stdout == ""


def test_single_node_launcher_debug_on_reports_what_it_started(tmp_path) -> None:
    result = run_bash(SingleNodeLauncher(debug=True)("true", 2, 1), str(tmp_path))
    assert "starting copy 2" in result.stdout


@pytest.mark.parametrize("launcher_cls, kwargs", [
    (SimpleLauncher, {"debug": "yes"}),
    (SingleNodeLauncher, {"fail_on_any": 1}),
])
def test_launchers_reject_wrongly_typed_parameters(launcher_cls, kwargs) -> None:
    with pytest.raises(BadParameter) as info:
        launcher_cls(**kwargs)
    assert launcher_cls.__name__ in str(info.value)
    assert next(iter(kwargs)) in str(info.value)
