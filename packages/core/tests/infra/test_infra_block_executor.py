"""BlockProviderExecutor with real LocalProvider blocks: launching, status, scaling in,
submission failures and the block error handlers."""
from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Dict, List

import pytest

from parsl.jobs.error_handlers import simple_error_handler, windowed_error_handler
from parsl.jobs.errors import TooManyJobFailuresError
from parsl.jobs.states import JobState, JobStatus
from parsl.launchers.launchers import SimpleLauncher
from parsl.providers.errors import SubmitException
from parsl.providers.local.local import LocalProvider


@pytest.fixture
def local_provider(tmp_path) -> LocalProvider:
    provider = LocalProvider(launcher=SimpleLauncher(), init_blocks=0, max_blocks=4)
    provider.script_dir = str(tmp_path)
    return provider


@pytest.fixture
def executor(block_executor_cls, local_provider, executors_to_shut_down):
    ex = block_executor_cls(local_provider, launch_cmd="echo 'block {block_id} up'; sleep 300")
    executors_to_shut_down.append(ex)
    return ex


def states(executor) -> Dict[str, JobState]:
    return {block_id: js.state for block_id, js in executor.status().items()}


def test_scale_out_launches_blocks_as_provider_jobs(executor, wait) -> None:
    launched = executor.scale_out_facade(2)

    assert launched == ["0", "1"]
    assert set(executor.blocks_to_job_id) == {"0", "1"}
    assert {executor.job_ids_to_block[j] for j in executor.blocks_to_job_id.values()} == {"0", "1"}
    wait(lambda: states(executor) == {"0": JobState.RUNNING, "1": JobState.RUNNING},
         what="both blocks RUNNING")


def test_launch_command_is_formatted_with_the_block_id(executor, tmp_path, wait) -> None:
    executor.scale_out_facade(1)
    stdout = wait(lambda: [p for p in tmp_path.glob("parsl.demo.block-0.*.stdout")
                           if p.read_text()], what="block output")
    assert stdout[0].read_text() == "block 0 up\n"


def test_scale_in_cancels_the_newest_block_and_marks_it_scaled_in(executor, wait,
                                                                   group_members) -> None:
    executor.scale_out_facade(2)
    newest_job = int(executor.blocks_to_job_id["1"])

    assert executor.scale_in_facade(1) == ["1"]

    assert states(executor) == {"0": JobState.RUNNING, "1": JobState.SCALED_IN}
    assert group_members(newest_job) == []


def test_refused_submission_becomes_a_failed_block(block_executor_cls, fake_provider_cls) -> None:
    class RefusingProvider(fake_provider_cls):
        def submit(self, command: str, tasks_per_node: int, job_name: str = "x") -> str:
            raise SubmitException(job_name, "sbatch: error: invalid partition specified: debug")

    executor = block_executor_cls(RefusingProvider())

    assert executor.scale_out_facade(1) == []

    status = executor.status()
    assert status["0"].state == JobState.FAILED
    assert "invalid partition specified" in status["0"].message


def test_all_blocks_failing_fails_outstanding_tasks_with_the_block_error(
        block_executor_cls, local_provider, wait) -> None:
    executor = block_executor_cls(local_provider,
                                  launch_cmd="echo 'worker: bad interchange address' >&2; exit 3")
    future = executor.submit(print, {})
    executor.scale_out_facade(1)

    wait(lambda: (executor.poll_facade(), executor.bad_state_is_set)[1], what="bad state")

    error = future.exception(timeout=0)
    assert isinstance(error, TooManyJobFailuresError)
    # Each future gets its own copy (short tracebacks); it says what the executor's says.
    assert error is not executor.executor_exception
    assert str(error) == str(executor.executor_exception)
    assert "block 0" in str(error)
    assert "bad interchange address" in str(error)
    assert "EXIT CODE: 3" in str(error)


def test_a_running_block_keeps_the_executor_healthy(executor, local_provider, wait) -> None:
    executor.scale_out_facade(1)
    executor.launch_cmd = "exit 1"
    executor.scale_out_facade(1)
    wait(lambda: states(executor).get("1") == JobState.FAILED, what="block 1 FAILED")

    executor.poll_facade()

    assert not executor.bad_state_is_set


def test_disabled_error_handler_never_sets_bad_state(block_executor_cls, local_provider,
                                                     wait) -> None:
    executor = block_executor_cls(local_provider, launch_cmd="exit 1", block_error_handler=False)
    executor.scale_out_facade(1)
    wait(lambda: states(executor).get("0") == JobState.FAILED, what="block FAILED")

    executor.poll_facade()

    assert not executor.bad_state_is_set


def test_custom_error_handler_is_called_with_the_block_statuses(block_executor_cls,
                                                                fake_provider_cls) -> None:
    seen: List[Dict[str, Any]] = []
    executor = block_executor_cls(fake_provider_cls(),
                                  block_error_handler=lambda ex, status: seen.append(status))
    executor.scale_out_facade(1)

    executor.poll_facade()

    assert seen and seen[-1]["0"].state == JobState.RUNNING


def test_bad_state_stops_further_scale_out(block_executor_cls, fake_provider_cls) -> None:
    provider = fake_provider_cls()
    executor = block_executor_cls(provider)
    executor.set_bad_state_and_fail_all(RuntimeError("broken"))

    assert executor.scale_out_facade(2) == []
    assert provider.submitted == []


def test_first_bad_state_reason_is_kept(block_executor_cls, fake_provider_cls) -> None:
    executor = block_executor_cls(fake_provider_cls())
    first = RuntimeError("first")
    executor.set_bad_state_and_fail_all(first)
    executor.set_bad_state_and_fail_all(RuntimeError("second"))
    assert executor.executor_exception is first


def test_tasks_submitted_after_bad_state_are_refused_with_the_reason(
        block_executor_cls, fake_provider_cls) -> None:
    executor = block_executor_cls(fake_provider_cls())
    executor.set_bad_state_and_fail_all(RuntimeError("blocks keep dying"))
    with pytest.raises(RuntimeError, match="blocks keep dying"):
        executor.submit(print, {})


def test_provider_is_polled_at_most_once_per_polling_interval(block_executor_cls,
                                                             fake_provider_cls) -> None:
    provider = fake_provider_cls()
    executor = block_executor_cls(provider, polling_interval=None)
    executor.scale_out_facade(1)

    executor.status()
    executor.status()

    assert executor.status_polling_interval == 60
    assert provider.status_calls == 1


def test_executor_without_provider_polls_nothing(block_executor_cls) -> None:
    executor = block_executor_cls(None, polling_interval=None)
    assert executor.status_polling_interval == 0
    assert executor.scale_out_facade(1) == []
    assert executor.status() == {}


def test_shutdown_cancels_every_live_block(executor, group_members) -> None:
    executor.scale_out_facade(2)
    jobs = [int(j) for j in executor.blocks_to_job_id.values()]

    executor.shutdown()

    assert all(group_members(pgid) == [] for pgid in jobs)
    assert set(states(executor).values()) == {JobState.SCALED_IN}


def _handler_target(block_executor_cls, fake_provider_cls):
    executor = block_executor_cls(fake_provider_cls())
    future: Future[Any] = executor.submit(print, {})
    return executor, future


def test_simple_handler_ignores_an_executor_with_no_blocks(block_executor_cls,
                                                           fake_provider_cls) -> None:
    executor, _ = _handler_target(block_executor_cls, fake_provider_cls)
    simple_error_handler(executor, {})
    assert not executor.bad_state_is_set


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.TIMEOUT, JobState.MISSING])
def test_simple_handler_counts_failed_timeout_and_missing_as_failures(
        block_executor_cls, fake_provider_cls, state) -> None:
    executor, future = _handler_target(block_executor_cls, fake_provider_cls)
    simple_error_handler(executor, {"0": JobStatus(state, "gone")})
    assert isinstance(future.exception(timeout=0), TooManyJobFailuresError)


def test_windowed_handler_fails_after_threshold_consecutive_failures(
        block_executor_cls, fake_provider_cls) -> None:
    executor, future = _handler_target(block_executor_cls, fake_provider_cls)
    status = {"0": JobStatus(JobState.COMPLETED)}
    status.update({str(i): JobStatus(JobState.FAILED, f"fail {i}") for i in range(1, 4)})

    windowed_error_handler(executor, status, threshold=3)

    assert executor.bad_state_is_set
    assert "fail 3" in str(future.exception(timeout=0))


def test_windowed_handler_tolerates_failures_followed_by_a_success(
        block_executor_cls, fake_provider_cls) -> None:
    executor, _ = _handler_target(block_executor_cls, fake_provider_cls)
    status = {str(i): JobStatus(JobState.FAILED) for i in range(3)}
    status["10"] = JobStatus(JobState.RUNNING)

    windowed_error_handler(executor, status, threshold=3)

    assert not executor.bad_state_is_set


def test_simple_handler_waits_until_init_blocks_blocks_have_failed(
        block_executor_cls, fake_provider_cls) -> None:
    """As in Parsl: with three initial blocks, two failures do not stop the executor."""
    provider = fake_provider_cls()
    provider.init_blocks = 3
    executor = block_executor_cls(provider)
    failed = {str(i): JobStatus(JobState.FAILED, f"fail {i}") for i in range(3)}

    simple_error_handler(executor, dict(list(failed.items())[:2]))
    assert not executor.bad_state_is_set

    simple_error_handler(executor, failed)
    assert executor.bad_state_is_set
