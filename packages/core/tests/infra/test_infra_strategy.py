"""Scaling decisions of the strategies, on executors with controllable load and clock."""
from __future__ import annotations

import logging
from typing import List

import pytest

from parsl.errors import BadParameter
from parsl.jobs.states import JobState, JobStatus
from parsl.jobs.strategy import Strategy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_executor(block_executor_cls, fake_provider_cls):
    def make(tasks: int = 0, workers: float = 1, label: str = "demo", **provider_kwargs):
        executor = block_executor_cls(fake_provider_cls(**provider_kwargs), label=label,
                                      workers=workers)
        executor.pending_tasks = tasks
        return executor
    return make


def live_blocks(executor) -> List[str]:
    return [b for b, js in executor.status().items() if not js.terminal]


def strategy(name, clock, max_idletime: float = 60.0) -> Strategy:
    return Strategy(strategy=name, max_idletime=max_idletime, clock=clock)


def test_unknown_strategy_name_lists_the_valid_ones() -> None:
    with pytest.raises(BadParameter) as info:
        Strategy(strategy="aggressive", max_idletime=60)
    message = str(info.value)
    for name in ("simple", "htex_auto_scale", "none"):
        assert name in message


@pytest.mark.parametrize("name", ["none", None])
def test_none_strategy_never_launches_blocks(make_executor, clock, name) -> None:
    executor = make_executor(tasks=50)
    strategy(name, clock).strategize([executor])
    assert executor.provider.submitted == []


def test_simple_scales_out_to_cover_outstanding_tasks(make_executor, clock) -> None:
    executor = make_executor(tasks=5, workers=2)
    strategy("simple", clock).strategize([executor])
    assert len(live_blocks(executor)) == 3


def test_simple_counts_nodes_per_block_in_capacity(make_executor, clock) -> None:
    executor = make_executor(tasks=8, workers=2, nodes_per_block=2)
    strategy("simple", clock).strategize([executor])
    assert len(live_blocks(executor)) == 2


def test_simple_does_not_relaunch_blocks_it_already_has(make_executor, clock) -> None:
    executor = make_executor(tasks=3)
    s = strategy("simple", clock)
    s.strategize([executor])
    s.strategize([executor])
    assert len(executor.provider.submitted) == 3


def test_simple_never_exceeds_max_blocks(make_executor, clock) -> None:
    executor = make_executor(tasks=100, max_blocks=4)
    strategy("simple", clock).strategize([executor])
    assert len(live_blocks(executor)) == 4


def test_parallelism_scales_capacity_to_a_fraction_of_the_tasks(make_executor, clock) -> None:
    executor = make_executor(tasks=8, parallelism=0.5)
    strategy("simple", clock).strategize([executor])
    assert len(live_blocks(executor)) == 4


def test_zero_parallelism_still_launches_one_block_for_waiting_tasks(make_executor,
                                                                     clock) -> None:
    executor = make_executor(tasks=8, parallelism=0)
    strategy("simple", clock).strategize([executor])
    assert len(live_blocks(executor)) == 1


def test_unbounded_workers_per_node_needs_one_block(make_executor, clock) -> None:
    executor = make_executor(tasks=1000, workers=float("inf"))
    strategy("simple", clock).strategize([executor])
    assert len(live_blocks(executor)) == 1


def test_simple_keeps_min_blocks_without_tasks(make_executor, clock) -> None:
    executor = make_executor(tasks=0, min_blocks=2)
    strategy("simple", clock).strategize([executor])
    assert len(live_blocks(executor)) == 2


def test_simple_does_not_scale_in_while_tasks_are_outstanding(make_executor, clock) -> None:
    executor = make_executor(tasks=4)
    s = strategy("simple", clock, max_idletime=0)
    s.strategize([executor])
    executor.pending_tasks = 1
    clock.now += 1000
    s.strategize([executor])
    assert len(live_blocks(executor)) == 4


def test_simple_scales_in_to_min_blocks_after_max_idletime(make_executor, clock) -> None:
    executor = make_executor(tasks=3, min_blocks=1)
    s = strategy("simple", clock, max_idletime=60)
    s.strategize([executor])
    executor.pending_tasks = 0

    s.strategize([executor])          # idle from now
    clock.now += 59
    s.strategize([executor])
    assert len(live_blocks(executor)) == 3

    clock.now += 2
    s.strategize([executor])
    assert len(live_blocks(executor)) == 1


def test_idle_timer_restarts_when_tasks_arrive(make_executor, clock) -> None:
    executor = make_executor(tasks=2)
    s = strategy("simple", clock, max_idletime=60)
    s.strategize([executor])
    executor.pending_tasks = 0
    s.strategize([executor])
    clock.now += 50
    executor.pending_tasks = 1
    s.strategize([executor])
    executor.pending_tasks = 0
    s.strategize([executor])
    clock.now += 50

    s.strategize([executor])

    assert len(live_blocks(executor)) == 2


def test_htex_auto_scale_scales_in_surplus_blocks_while_busy(make_executor, clock) -> None:
    executor = make_executor(tasks=4)
    s = strategy("htex_auto_scale", clock, max_idletime=30)
    s.strategize([executor])
    executor.pending_tasks = 1

    s.strategize([executor])

    assert executor.scale_in_calls[-1] == {"blocks": 3, "max_idletime": 30}
    assert len(live_blocks(executor)) == 1


def test_htex_auto_scale_keeps_min_blocks_while_busy(make_executor, clock) -> None:
    executor = make_executor(tasks=4, min_blocks=2)
    s = strategy("htex_auto_scale", clock)
    s.strategize([executor])
    executor.pending_tasks = 1
    s.strategize([executor])
    assert len(live_blocks(executor)) == 2


def test_executor_in_bad_state_is_not_scaled(make_executor, clock) -> None:
    executor = make_executor(tasks=5)
    executor.set_bad_state_and_fail_all(RuntimeError("broken"))
    strategy("simple", clock).strategize([executor])
    assert executor.provider.submitted == []


def test_failed_blocks_do_not_count_as_capacity(make_executor, clock) -> None:
    executor = make_executor(tasks=1)
    s = strategy("simple", clock)
    s.strategize([executor])
    executor._polled_status["0"] = JobStatus(JobState.FAILED, "node died")
    s.strategize([executor])
    assert len(executor.provider.submitted) == 2


def test_failure_scaling_one_executor_is_logged_and_others_still_scale(
        make_executor, clock, caplog) -> None:
    broken = make_executor(tasks=5, label="broken")

    def explode(n: int) -> List[str]:
        raise RuntimeError("scheduler exploded")

    broken.scale_out_facade = explode
    healthy = make_executor(tasks=2, label="healthy")

    with caplog.at_level(logging.ERROR, logger="parsl.jobs.strategy"):
        strategy("simple", clock).strategize([broken, healthy])

    assert "broken" in caplog.text and "scheduler exploded" in caplog.text
    assert len(live_blocks(healthy)) == 2


def test_outstanding_reads_as_a_number_and_calls_as_a_method() -> None:
    """Parsl 1.x scripts read ``executor.outstanding``; current Parsl calls it."""
    from parsl.executors.status_handling import OutstandingCount

    count = OutstandingCount(3)
    assert count == 3 and count() == 3 and isinstance(count(), int)


def test_zero_max_idletime_scales_in_on_the_first_idle_pass(make_executor, clock) -> None:
    executor = make_executor(tasks=3, min_blocks=0)
    s = strategy("simple", clock, max_idletime=0)
    s.strategize([executor])
    executor.pending_tasks = 0
    s.strategize([executor])
    assert live_blocks(executor) == []
