"""A run killed with SIGKILL at any point restarts from its checkpoints and runs only
the work whose result was not checkpointed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import List, Optional, Set

import pytest

from parsl.dataflow.checkpoint import FILE_NAME, iter_records

WORKFLOW = os.path.join(os.path.dirname(__file__), "crash_workflow.py")
N_TASKS = 40


def _run(run_dir: str, marker_dir: str, restart: bool,
         kill_after: Optional[str] = None) -> List[str]:
    """Run the workflow; with ``kill_after``, SIGKILL it right after it prints that line.
    Returns the lines it printed."""
    args = [sys.executable, WORKFLOW, run_dir, marker_dir, str(N_TASKS)]
    if restart:
        args.append("restart")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: List[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if kill_after is not None and line.strip() == kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    if kill_after is None:
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    else:
        assert proc.returncode == -signal.SIGKILL, f"workflow ended before {kill_after!r}"
    if proc.stderr is not None:
        proc.stderr.close()
    return lines


def _ran(marker_dir: str) -> Set[int]:
    return {int(name) for name in os.listdir(marker_dir)} if os.path.isdir(marker_dir) \
        else set()


def _checkpointed(run_dir: str) -> Set[int]:
    found: Set[int] = set()
    for run in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, run, "checkpoint", FILE_NAME)
        if os.path.exists(path):
            found.update(v for _, v in iter_records(path) if v < N_TASKS)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["started", "done 3", "done 25", f"done {N_TASKS - 1}"])
def test_restart_after_sigkill_runs_exactly_the_unfinished_tasks(tmp_path, kill_after):
    run_dir = str(tmp_path / "runinfo")
    first_markers, second_markers = str(tmp_path / "first"), str(tmp_path / "second")
    lines = _run(run_dir, first_markers, restart=False, kill_after=kill_after)
    reported_done = {int(line.split()[1]) for line in lines if line.startswith("done ")}
    checkpointed = _checkpointed(run_dir)

    assert reported_done <= checkpointed
    assert checkpointed <= _ran(first_markers)

    lines = _run(run_dir, second_markers, restart=True)
    assert _ran(second_markers) == set(range(N_TASKS)) - checkpointed
    assert f"total {sum(range(N_TASKS))}" in lines


@pytest.mark.slow
def test_second_restart_reuses_work_of_every_earlier_run(tmp_path):
    run_dir = str(tmp_path / "runinfo")
    _run(run_dir, str(tmp_path / "first"), restart=False, kill_after="done 5")
    _run(run_dir, str(tmp_path / "second"), restart=True, kill_after="done 20")
    checkpointed = _checkpointed(run_dir)
    third = str(tmp_path / "third")
    _run(run_dir, third, restart=True)
    assert _ran(third) == set(range(N_TASKS)) - checkpointed
