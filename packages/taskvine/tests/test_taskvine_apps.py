"""Python, bash and join apps on a real TaskVine manager with factory-started workers."""
from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
import tv_apps
from tv_helpers import free_port, loaded

from parsl.app.errors import BashExitFailure
from parsl.data_provider.files import File
from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def vine(tmp_path_factory: Any) -> Iterator[TaskVineExecutor]:
    """One factory-launched 2-core worker; regular mode by default, a 2-slot library."""
    port = free_port()
    ex = TaskVineExecutor(
        manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1",
                                             library_config={"num_slots": 2, "cores": 2}),
        factory_config=TaskVineFactoryConfig(cores=2, worker_timeout=60))
    with loaded(ex, tmp_path_factory, port):
        yield ex


def test_python_app_returns_its_value(vine: TaskVineExecutor) -> None:
    assert tv_apps.double(21).result(timeout=60) == 42


def test_tasks_run_in_a_worker_sandbox_not_the_submit_directory(vine: TaskVineExecutor
                                                                  ) -> None:
    assert tv_apps.where_am_i().result(timeout=60) != os.getcwd()


def test_remote_exception_keeps_type_message_and_traceback(vine: TaskVineExecutor) -> None:
    future = tv_apps.fail_with("no such key 'k7'")
    with pytest.raises(KeyError, match="no such key 'k7'") as info:
        future.result(timeout=60)
    remote = getattr(info.value, "__parsl_remote_traceback__", "")
    assert "in fail_with" in remote and remote.rstrip().endswith("KeyError: \"no such key 'k7'\"")


def test_input_and_output_files_are_staged(vine: TaskVineExecutor, tmp_path: Any) -> None:
    src = tmp_path / "in.txt"
    src.write_text("a\nb\nc\n")
    out = tmp_path / "sub" / "out.txt"
    future = tv_apps.count_lines(inputs=[File(str(src))], outputs=[File(str(out))])
    assert future.result(timeout=60) == 3
    future.outputs[0].result(timeout=30)
    assert out.read_text() == "3\n"


def test_bash_app_stdout_comes_back_to_the_submit_host(vine: TaskVineExecutor,
                                                       tmp_path: Any) -> None:
    stdout = tmp_path / "echo.out"
    assert tv_apps.echo_to("hello-vine", stdout=str(stdout)).result(timeout=60) == 0
    assert stdout.read_text() == "hello-vine\n"


def test_bash_app_exit_code_fails_with_bash_exit_failure(vine: TaskVineExecutor) -> None:
    with pytest.raises(BashExitFailure) as info:
        tv_apps.exit_with(3).result(timeout=60)
    assert info.value.exitcode == 3


def test_join_app_runs_its_inner_apps(vine: TaskVineExecutor) -> None:
    assert tv_apps.double_twice(5).result(timeout=90) == 20


def test_resource_specification_with_category_and_priority_runs(vine: TaskVineExecutor
                                                                ) -> None:
    spec = {"cores": 1, "memory": 500, "disk": 200, "priority": 5, "category": "small",
            "running_time_min": 1}
    assert tv_apps.double(8, parsl_resource_specification=spec).result(timeout=60) == 16


def test_serverless_task_in_a_regular_executor_fails_saying_why(vine: TaskVineExecutor
                                                                ) -> None:
    from parsl.executors.taskvine.errors import TaskVineTaskFailure

    with pytest.raises(TaskVineTaskFailure, match="function_exec_mode is 'serverless'"):
        tv_apps.double(1, parsl_resource_specification={"exec_mode": "serverless"}
                       ).result(timeout=60)
