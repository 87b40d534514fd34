"""When a manager is lost, its tasks' ManagerLost says what happened to its block.

The executor asks the provider about the lost manager's block, so a user reads "block 0
(job 1234) ended with state TIMEOUT" instead of guessing why heartbeats stopped. A real
Slurm walltime is tested in parsl-providers-hpc; here LocalProvider blocks are killed as a
batch system would kill them, and a LocalProvider subclass reports TIMEOUT for a block the
test ends "at its walltime" (LocalProvider has no walltime of its own).
"""
from __future__ import annotations

import os
import signal
from typing import Any, List, Set

import pytest
from htex_support import WORKER_INIT, manager_process, wait_for
from htex_test_tasks import sleep_then_return

from parsl.jobs.states import JobState, JobStatus
from parsl.providers import LocalProvider
from parsl_htex.errors import ManagerLost

pytestmark = pytest.mark.slow


class WalltimeLocalProvider(LocalProvider):
    """LocalProvider whose blocks can be ended the way a batch system ends them at walltime."""

    timed_out: Set[str]

    def end_at_walltime(self, job_id: str) -> None:
        if not hasattr(self, "timed_out"):
            self.timed_out = set()
        self.timed_out.add(str(job_id))
        os.killpg(int(job_id), signal.SIGKILL)

    def status(self, job_ids: List[Any]) -> List[JobStatus]:
        statuses = super().status(job_ids)
        timed_out = getattr(self, "timed_out", set())
        return [JobStatus(JobState.TIMEOUT, "the job reached its walltime")
                if str(job_id) in timed_out and js.terminal else js
                for job_id, js in zip(job_ids, statuses)]


def _busy_manager(ex) -> Any:
    fut = ex.submit(sleep_then_return, {}, 60)
    wait_for(lambda: any(m["tasks"] for m in ex.connected_managers()), what="task dispatch")
    return fut


def test_manager_lost_at_walltime_names_block_job_and_timeout(make_htex):
    provider = WalltimeLocalProvider(init_blocks=1, max_blocks=1, worker_init=WORKER_INIT)
    ex = make_htex(provider=provider)
    fut = _busy_manager(ex)
    job_id = ex.blocks_to_job_id["0"]
    provider.end_at_walltime(job_id)
    with pytest.raises(ManagerLost) as info:
        fut.result(timeout=30)
    assert (f"block 0 (job {job_id}) ended with state TIMEOUT: the job reached its walltime"
            in str(info.value))
    assert info.value.block_id == "0"


def test_manager_lost_with_killed_block_names_the_failed_state(make_htex):
    ex = make_htex()
    fut = _busy_manager(ex)
    job_id = ex.blocks_to_job_id["0"]
    os.killpg(int(job_id), signal.SIGKILL)
    with pytest.raises(ManagerLost) as info:
        fut.result(timeout=30)
    text = str(info.value)
    assert f"block 0 (job {job_id}) ended with state FAILED" in text
    assert "SIGKILL" in text


def test_manager_lost_while_its_block_runs_says_the_block_is_still_running(make_htex):
    ex = make_htex()
    manager = manager_process(ex)
    fut = _busy_manager(ex)
    manager.suspend()
    try:
        with pytest.raises(ManagerLost) as info:
            fut.result(timeout=30)
    finally:
        manager.resume()
    assert f"block 0 (job {ex.blocks_to_job_id['0']}) is still RUNNING" in str(info.value)
    assert "heartbeat" in str(info.value)
