"""Blocks come and go as Parsl's strategies and HTEX's drain_period say.

Every test runs a real DFK whose job status poller drives the strategy, with LocalProvider
blocks whose managers and workers are real processes.
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict, Iterator, List

import psutil
import pytest
from htex_support import WORKER_INIT, htex_processes, wait_for

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.jobs.states import JobState
from parsl.providers import LocalProvider

pytestmark = pytest.mark.slow

MAX_IDLETIME = 2.0


@parsl.python_app
def whereami(seconds: float = 0.0, gate: str = "") -> Dict[str, Any]:
    """Where the task ran; it first sleeps ``seconds`` and waits (bounded) for ``gate``."""
    import os
    import time

    time.sleep(seconds)
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"block": os.environ["PARSL_WORKER_BLOCK_ID"],
            "pool": os.environ["PARSL_WORKER_POOL_ID"], "manager_pid": os.getppid()}


@pytest.fixture
def load_htex(tmp_path: Any) -> Iterator[Any]:
    """Load a DFK with one HTEX (1 worker per block) and the given strategy settings."""
    loaded: List[HighThroughputExecutor] = []

    def factory(*, strategy: str, provider: LocalProvider,
                **htex_kwargs: Any) -> HighThroughputExecutor:
        htex_kwargs.setdefault("max_workers_per_node", 1)
        htex_kwargs.setdefault("heartbeat_period", 1)
        htex_kwargs.setdefault("heartbeat_threshold", 5)
        ex = HighThroughputExecutor(label="htex", address="127.0.0.1", provider=provider,
                                    **htex_kwargs)
        parsl.load(Config(executors=[ex], run_dir=str(tmp_path / "runinfo"),
                          strategy=strategy, strategy_period=0.2, max_idletime=MAX_IDLETIME))
        loaded.append(ex)
        return ex

    yield factory
    if loaded:
        parsl.dfk().cleanup()
        for ex in loaded:
            wait_for(lambda ex=ex: not htex_processes(ex.run_dir, ex), timeout=20,
                     what="every HTEX process to exit after cleanup")


def _provider(**kwargs: Any) -> LocalProvider:
    return LocalProvider(worker_init=WORKER_INIT, **kwargs)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _states(ex: HighThroughputExecutor) -> Dict[str, JobState]:
    return {block: js.state for block, js in ex.status().items()}


def test_idle_blocks_are_scaled_in_after_max_idletime_and_their_processes_end(load_htex):
    ex = load_htex(strategy="htex_auto_scale",
                   provider=_provider(init_blocks=0, min_blocks=0, max_blocks=2))
    results = [f.result(timeout=60) for f in [whereami(1.0), whereami(1.0)]]
    assert {r["block"] for r in results} == {"0", "1"}
    wait_for(lambda: _states(ex) == {"0": JobState.SCALED_IN, "1": JobState.SCALED_IN},
             timeout=30, what="both idle blocks to be scaled in")
    for r in results:
        wait_for(lambda r=r: _gone(r["manager_pid"]), timeout=20,
                 what=f"manager {r['manager_pid']} to exit")


def test_auto_scale_cancels_the_idle_block_and_keeps_the_busy_one(load_htex, tmp_path):
    ex = load_htex(strategy="htex_auto_scale",
                   provider=_provider(init_blocks=0, min_blocks=0, max_blocks=2))
    short_gate, long_gate = tmp_path / "short-gate", tmp_path / "long-gate"
    long_task = whereami(gate=str(long_gate))
    short_task = whereami(gate=str(short_gate))
    wait_for(lambda: sorted(m["tasks"] for m in ex.connected_managers()) == [1, 1],
             timeout=30, what="each of two blocks to hold one task")
    short_gate.touch()
    short = short_task.result(timeout=60)
    # The block that ran the short task is idle, but not yet for max_idletime.
    assert _states(ex).get(short["block"]) != JobState.SCALED_IN
    wait_for(lambda: _states(ex).get(short["block"]) == JobState.SCALED_IN, timeout=30,
             what=f"idle block {short['block']} to be scaled in")
    busy = "1" if short["block"] == "0" else "0"
    assert not long_task.done()
    assert _states(ex)[busy] != JobState.SCALED_IN
    long_gate.touch()
    assert long_task.result(timeout=60)["block"] == busy


def test_min_blocks_are_kept_when_idle(load_htex):
    ex = load_htex(strategy="htex_auto_scale",
                   provider=_provider(init_blocks=2, min_blocks=1, max_blocks=2))
    wait_for(lambda: len(ex.connected_managers()) == 2, timeout=30, what="two managers")
    wait_for(lambda: list(_states(ex).values()).count(JobState.SCALED_IN) == 1, timeout=30,
             what="one of the two idle blocks to be scaled in")
    deadline = time.monotonic() + 3 * MAX_IDLETIME
    while time.monotonic() < deadline:
        assert list(_states(ex).values()).count(JobState.SCALED_IN) == 1
        time.sleep(0.2)
    assert whereami().result(timeout=60)["block"] in _states(ex)


def test_manager_drains_after_drain_period_and_tasks_continue_on_a_new_block(load_htex):
    ex = load_htex(strategy="simple", drain_period=2,
                   provider=_provider(init_blocks=1, min_blocks=0, max_blocks=1))
    first = whereami().result(timeout=60)
    futures = [whereami(0.5) for _ in range(8)]
    results = [f.result(timeout=120) for f in futures]
    assert len({r["pool"] for r in [first, *results]}) >= 2
    wait_for(lambda: _gone(first["manager_pid"]), timeout=20,
             what="the drained manager to exit")
    manager_log = os.path.join(ex.logdir, "block-0", first["pool"], "manager.log")
    assert "Drain period of 2.0 s is over" in open(manager_log).read()


def test_block_whose_workers_never_start_fails_its_tasks_instead_of_hanging(load_htex):
    """A ``worker_init`` that ends the block script with exit code 0 before any worker
    starts: the block is reported MISSING (Parsl's state for it), the block error handler
    gives up, and the task fails with BadStateException carrying the exit code and the
    script's output, instead of new blocks being launched forever while it waits."""
    from parsl.executors.errors import BadStateException

    ex = load_htex(strategy="htex_auto_scale",
                   provider=LocalProvider(worker_init="echo no workers today >&2; exit 0",
                                          init_blocks=0, min_blocks=0, max_blocks=2))
    future = whereami()
    with pytest.raises(BadStateException) as info:
        future.result(timeout=120)
    text = str(info.value)
    assert "MISSING" in text and "EXIT CODE: 0" in text and "no workers today" in text
    assert "no manager of this block ever registered" in text
    assert all(state is JobState.MISSING for state in _states(ex).values())
    assert ex.connected_blocks() == []


def test_connected_blocks_keeps_blocks_that_were_scaled_in(load_htex):
    """``connected_blocks()`` lists every block that ever had a manager registered, as in
    Parsl, not only the blocks connected now."""
    ex = load_htex(strategy="none", provider=_provider(init_blocks=1, max_blocks=2))
    assert whereami().result(timeout=60)["block"] == "0"
    assert ex.connected_blocks() == ["0"]
    assert ex.scale_in(1) == ["0"]
    wait_for(lambda: not ex.connected_managers(), what="block 0's manager to leave")
    assert ex.connected_blocks() == ["0"]


def test_manager_reports_draining_on_time_and_leaves_when_its_task_ends(load_htex):
    """The drain deadline is kept to within a poll, not the next heartbeat-paced check
    (heartbeat_period is 30 s by default), and a drained manager leaves as soon as its
    last task is done."""
    ex = load_htex(strategy="none", drain_period=3, heartbeat_period=30,
                   heartbeat_threshold=120,
                   provider=_provider(init_blocks=1, min_blocks=0, max_blocks=0))
    wait_for(lambda: len(ex.connected_managers()) == 1, what="the manager to register")
    registered = time.monotonic()
    running = whereami(6)
    wait_for(lambda: ex.connected_managers()[0]["draining"], timeout=10,
             what="the manager to report draining")
    assert time.monotonic() - registered < 4.5
    assert not running.done()
    running.result(timeout=60)
    ended = time.monotonic()
    wait_for(lambda: not ex.connected_managers(), timeout=10, what="the manager to leave")
    assert time.monotonic() - ended < 2


def test_auto_scale_keeps_a_starting_block_that_tasks_wait_for(load_htex):
    """init_blocks=1 with max_blocks=0 (Parsl's test_htex_init_blocks_vs_monitoring): the
    strategy sees more slots than tasks, but the only block, still starting, must not be
    cancelled while the task waits for it (no other block can ever come)."""
    ex = load_htex(strategy="htex_auto_scale",
                   provider=_provider(init_blocks=1, min_blocks=0, max_blocks=0))
    assert whereami().result(timeout=60)["block"] == "0"
    assert _states(ex)["0"] is not JobState.SCALED_IN
