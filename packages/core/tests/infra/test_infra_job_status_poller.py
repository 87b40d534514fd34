"""JobStatusPoller: initial blocks, periodic polling and scaling, resilience, and close."""
from __future__ import annotations

import logging
import threading
from typing import Iterator, List

import pytest

from parsl.errors import BadParameter
from parsl.jobs.job_status_poller import JobStatusPoller
from parsl.jobs.states import JobState
from parsl.launchers.launchers import SimpleLauncher
from parsl.providers.local.local import LocalProvider


@pytest.fixture
def pollers() -> Iterator[List[JobStatusPoller]]:
    """Pollers appended here are closed after the test, so no polling thread leaks."""
    created: List[JobStatusPoller] = []
    yield created
    for poller in created:
        poller.close(timeout=10)


def new_poller(pollers, strategy="simple", period=0.05) -> JobStatusPoller:
    poller = JobStatusPoller(strategy=strategy, max_idletime=60, strategy_period=period)
    pollers.append(poller)
    return poller


def test_add_executors_launches_init_blocks(pollers, block_executor_cls,
                                            fake_provider_cls) -> None:
    executor = block_executor_cls(fake_provider_cls(init_blocks=2))
    new_poller(pollers, strategy="none", period=60).add_executors([executor])
    assert len(executor.provider.submitted) == 2


def test_poller_scales_out_when_tasks_arrive(pollers, block_executor_cls, fake_provider_cls,
                                             wait) -> None:
    executor = block_executor_cls(fake_provider_cls(init_blocks=0))
    new_poller(pollers).add_executors([executor])

    executor.pending_tasks = 3

    wait(lambda: len(executor.provider.submitted) == 3, what="3 blocks launched by the poller")


def test_poller_runs_the_block_error_handler(pollers, block_executor_cls, fake_provider_cls,
                                             wait) -> None:
    called = threading.Event()
    executor = block_executor_cls(fake_provider_cls(init_blocks=1),
                                  block_error_handler=lambda ex, status: called.set())
    new_poller(pollers).add_executors([executor])
    assert called.wait(10)


def test_poller_thread_survives_exceptions_and_logs_the_label(
        pollers, block_executor_cls, fake_provider_cls, wait, caplog) -> None:
    executor = block_executor_cls(fake_provider_cls(init_blocks=0), label="flaky")
    calls: List[int] = []

    def failing_poll() -> None:
        calls.append(1)
        raise RuntimeError("squeue timed out")

    executor.poll_facade = failing_poll
    with caplog.at_level(logging.ERROR, logger="parsl.jobs.job_status_poller"):
        new_poller(pollers).add_executors([executor])
        wait(lambda: len(calls) >= 3, what="three polling rounds")

    assert "flaky" in caplog.text and "squeue timed out" in caplog.text


def test_close_stops_the_polling_thread(pollers, block_executor_cls, fake_provider_cls) -> None:
    poller = new_poller(pollers)
    poller.add_executors([block_executor_cls(fake_provider_cls(init_blocks=0))])
    thread = poller._thread
    assert thread is not None and thread.is_alive()

    poller.close(timeout=10)

    assert not thread.is_alive()


def test_close_cancels_real_blocks_leaving_no_processes(
        pollers, tmp_path, block_executor_cls, wait, group_members) -> None:
    provider = LocalProvider(launcher=SimpleLauncher(), init_blocks=2, max_blocks=2)
    provider.script_dir = str(tmp_path)
    executor = block_executor_cls(provider, launch_cmd="sleep 300 & sleep 300 & wait")
    poller = new_poller(pollers, strategy="none")
    poller.add_executors([executor])
    jobs = [int(j) for j in executor.blocks_to_job_id.values()]
    wait(lambda: all(len(group_members(j)) == 3 for j in jobs), what="both blocks running")

    poller.close(timeout=10)

    assert all(group_members(j) == [] for j in jobs)
    assert {js.state for js in executor.status().values()} == {JobState.SCALED_IN}


def test_close_cancels_blocks_of_an_executor_in_bad_state(pollers, block_executor_cls,
                                                           fake_provider_cls) -> None:
    executor = block_executor_cls(fake_provider_cls(init_blocks=1), block_error_handler=False)
    poller = new_poller(pollers, strategy="none", period=60)
    poller.add_executors([executor])
    executor.set_bad_state_and_fail_all(RuntimeError("interchange died"))

    poller.close(timeout=10)

    assert executor.provider.cancelled == executor.provider.submitted


def test_non_positive_strategy_period_is_rejected() -> None:
    with pytest.raises(BadParameter):
        JobStatusPoller(strategy="simple", max_idletime=60, strategy_period=0)


def test_callback_is_what_each_round_calls_and_can_be_wrapped(pollers, block_executor_cls,
                                                              fake_provider_cls, wait) -> None:
    """Parsl's ``JobStatusPoller.callback``: wrapping it observes every round, and the
    wrapped round still scales."""
    executor = block_executor_cls(fake_provider_cls(init_blocks=0))
    poller = new_poller(pollers)
    rounds = threading.Event()
    original = poller.callback

    def observed() -> None:
        original()
        rounds.set()

    poller.callback = observed
    poller.add_executors([executor])
    executor.pending_tasks = 1
    assert rounds.wait(10), "the polling thread never called the callback"
    wait(lambda: len(executor.provider.submitted) == 1, what="the wrapped round to scale out")
