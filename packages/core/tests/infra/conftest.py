"""Fixtures for the block infrastructure tests: real block processes and fake providers.

``block_executor_cls`` is a minimal BlockProviderExecutor whose "workers" are whatever
shell command the test gives; with LocalProvider its blocks are real process groups.
``fake_provider_cls`` records submissions and cancellations without running anything, for
strategy decisions that need no processes.
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import Future
from typing import Any, Callable, Dict, Iterator, List, Optional, Type, Union

import polling
import psutil
import pytest

from parsl.executors.status_handling import BlockProviderExecutor
from parsl.jobs.states import JobState, JobStatus
from parsl.providers.base import ExecutionProvider


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
             what: str = "condition") -> Any:
    """:func:`polling.wait_for` with this folder's shorter bound and finer interval."""
    return polling.wait_for(condition, timeout, what, interval)


def live_processes_in_group(pgid: int) -> List[psutil.Process]:
    """Processes of process group ``pgid`` that are running (zombies count as gone)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


class DemoBlockExecutor(BlockProviderExecutor):
    """A block executor whose block command is ``launch_cmd`` formatted with ``block_id``."""

    def __init__(self, provider: Optional[ExecutionProvider], launch_cmd: str = "sleep 300",
                 block_error_handler: Union[bool, Callable[..., None]] = True,
                 label: str = "demo", workers: Union[int, float] = 1,
                 polling_interval: Optional[float] = 0) -> None:
        super().__init__(provider=provider, block_error_handler=block_error_handler)
        self.label = label
        self.launch_cmd = launch_cmd
        self.pending_tasks = 0
        self.workers = workers
        self.polling_interval = polling_interval
        self.scale_in_calls: List[Dict[str, Any]] = []

    def start(self) -> None:
        """Nothing to start: the tests drive blocks directly."""

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        if self.bad_state_is_set:
            assert self.executor_exception is not None
            raise self.executor_exception
        future: Future[Any] = Future()
        self._tasks[len(self._tasks)] = future
        return future

    def _get_launch_command(self, block_id: str) -> str:
        return self.launch_cmd.format(block_id=block_id)

    @property
    def outstanding(self) -> int:
        return self.pending_tasks

    @property
    def workers_per_node(self) -> Union[int, float]:
        return self.workers

    @property
    def status_polling_interval(self) -> float:
        if self.polling_interval is None:
            return super().status_polling_interval
        return self.polling_interval

    def scale_in(self, blocks: int, max_idletime: Optional[float] = None) -> List[str]:
        self.scale_in_calls.append({"blocks": blocks, "max_idletime": max_idletime})
        return super().scale_in(blocks, max_idletime=max_idletime)


class FakeProvider(ExecutionProvider):
    """Records submissions; every job runs until cancelled. No processes are started."""

    def __init__(self, init_blocks: int = 0, min_blocks: int = 0, max_blocks: int = 10,
                 nodes_per_block: int = 1, parallelism: float = 1.0) -> None:
        self.label = "fake"
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.nodes_per_block = nodes_per_block
        self.parallelism = parallelism
        self.submitted: List[str] = []
        self.cancelled: List[str] = []
        self.status_calls = 0
        self._ids = itertools.count(100)

    def submit(self, command: str, tasks_per_node: int, job_name: str = "parsl.auto") -> str:
        job_id = f"job{next(self._ids)}"
        self.submitted.append(job_id)
        return job_id

    def status(self, job_ids: List[Any]) -> List[JobStatus]:
        self.status_calls += 1
        return [JobStatus(JobState.CANCELLED if j in self.cancelled else JobState.RUNNING)
                for j in job_ids]

    def cancel(self, job_ids: List[Any]) -> List[bool]:
        self.cancelled.extend(job_ids)
        return [True for _ in job_ids]

    @property
    def status_polling_interval(self) -> int:
        return 60


@pytest.fixture
def block_executor_cls() -> Type[DemoBlockExecutor]:
    return DemoBlockExecutor


@pytest.fixture
def fake_provider_cls() -> Type[FakeProvider]:
    return FakeProvider


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_for


@pytest.fixture
def group_members() -> Callable[[int], List[psutil.Process]]:
    return live_processes_in_group


@pytest.fixture
def executors_to_shut_down() -> Iterator[List[BlockProviderExecutor]]:
    """Executors appended here are shut down after the test, so no block outlives it."""
    executors: List[BlockProviderExecutor] = []
    yield executors
    for executor in executors:
        executor.shutdown()
