"""Serverless mode: Parsl tasks as calls into a TaskVine library on a real worker."""
from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
import tv_apps
from tv_helpers import free_port, loaded

from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def serverless(tmp_path_factory: Any) -> Iterator[TaskVineExecutor]:
    """Serverless by default: a 1-core library with 2 slots on one 2-core worker, so a
    1-core regular task fits beside it."""
    port = free_port()
    ex = TaskVineExecutor(
        function_exec_mode="serverless",
        manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1",
                                             library_config={"num_slots": 2, "cores": 1}),
        factory_config=TaskVineFactoryConfig(cores=2, worker_timeout=60))
    with loaded(ex, tmp_path_factory, port):
        yield ex


def test_serverless_tasks_return_values_and_exceptions(serverless: TaskVineExecutor) -> None:
    assert tv_apps.double(4).result(timeout=90) == 8
    with pytest.raises(KeyError, match="from-library"):
        tv_apps.fail_with("from-library").result(timeout=60)


def test_regular_exec_mode_per_task_in_a_serverless_executor(serverless: TaskVineExecutor
                                                             ) -> None:
    spec = {"exec_mode": "regular", "cores": 1}
    assert tv_apps.where_am_i(parsl_resource_specification=spec).result(timeout=60) \
        != os.getcwd()


def test_a_burst_of_serverless_tasks_gets_each_value_and_exception(serverless: TaskVineExecutor
                                                                    ) -> None:
    """Bursts travel several tasks per function call; each task keeps its own outcome."""
    futures = [tv_apps.double(i) for i in range(300)]
    failing = tv_apps.fail_with("inside-a-burst")
    assert [f.result(timeout=120) for f in futures] == [2 * i for i in range(300)]
    with pytest.raises(KeyError, match="inside-a-burst"):
        failing.result(timeout=60)
