"""Leaving a run: exit_mode of the ``with`` block, and Ctrl-C in the middle of a run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import List, Set

import pytest

import parsl
from parsl import python_app
from parsl.config import Config
from parsl.dataflow.checkpoint import FILE_NAME, iter_records
from parsl.errors import NoDataFlowKernelError
from parsl.executors.threads import ThreadPoolExecutor

INTERRUPTED = os.path.join(os.path.dirname(__file__), "interrupted_workflow.py")


@python_app
def pause(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _config(run_dir: str, exit_mode: str) -> Config:
    return Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir,
                  exit_mode=exit_mode)  # type: ignore[arg-type]


def test_exit_mode_wait_finishes_tasks_before_leaving_block(run_dir):
    with parsl.load(_config(run_dir, "wait")):
        fut = pause(0.3)
    assert fut.done()
    assert fut.result() == 0.3


def test_exit_mode_cleanup_unloads_dfk(run_dir):
    with parsl.load(_config(run_dir, "cleanup")) as dfk:
        pause(0).result(timeout=10)
    with pytest.raises(NoDataFlowKernelError):
        parsl.dfk()
    with pytest.raises(NoDataFlowKernelError):
        dfk.submit(lambda: None, ())


def test_exit_mode_skip_leaves_dfk_running(run_dir):
    with parsl.load(_config(run_dir, "skip")) as dfk:
        pass
    assert parsl.dfk() is dfk
    assert pause(0).result(timeout=10) == 0
    dfk.cleanup()


def test_exit_mode_wait_does_not_wait_when_block_raises(run_dir):
    start = time.monotonic()
    with pytest.raises(KeyError), parsl.load(_config(run_dir, "wait")):
        pause(2)
        raise KeyError("leave now")
    assert time.monotonic() - start < 2


def _interrupt(run_dir: str, mode: str, wait: str, style: str) -> List[str]:
    """Run the workflow, SIGINT it once it is blocked; return its output lines.
    Asserts it exits within 10 seconds of the signal."""
    proc = subprocess.Popen([sys.executable, INTERRUPTED, run_dir, mode, wait, style],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    trigger = "waiting" if wait == "wait" else "done 5"
    lines: List[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() == trigger:
                break
        assert lines and lines[-1] == trigger, f"workflow ended early: {lines}"
        os.kill(proc.pid, signal.SIGINT)
        start = time.monotonic()
        lines.extend(line.strip() for line in proc.stdout)
        proc.wait(timeout=10)
        assert time.monotonic() - start < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode != 0
    return lines


def _checkpointed(run_dir: str) -> Set[int]:
    (run,) = os.listdir(run_dir)
    path = os.path.join(run_dir, run, "checkpoint", FILE_NAME)
    return {value for _, value in iter_records(path)} if os.path.exists(path) else set()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["task_exit", "dfk_exit"])
def test_ctrl_c_in_result_returns_promptly_and_checkpoints_finished_tasks(tmp_path, mode):
    run_dir = str(tmp_path / "runinfo")
    lines = _interrupt(run_dir, mode, "result", "with")
    done = {int(line.split()[1]) for line in lines if line.startswith("done ")}
    checkpointed = _checkpointed(run_dir)
    assert done <= checkpointed
    assert len(checkpointed) < 2000


@pytest.mark.slow
def test_ctrl_c_in_wait_for_current_tasks_returns_promptly(tmp_path):
    run_dir = str(tmp_path / "runinfo")
    _interrupt(run_dir, "dfk_exit", "wait", "with")
    assert 0 < len(_checkpointed(run_dir)) < 2000


@pytest.mark.slow
def test_ctrl_c_outside_with_block_cancels_queued_tasks_and_checkpoints(tmp_path):
    run_dir = str(tmp_path / "runinfo")
    lines = _interrupt(run_dir, "dfk_exit", "result", "plain")
    done = {int(line.split()[1]) for line in lines if line.startswith("done ")}
    checkpointed = _checkpointed(run_dir)
    assert done <= checkpointed
    assert len(checkpointed) < 2000
