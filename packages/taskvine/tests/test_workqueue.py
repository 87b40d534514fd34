"""WorkQueueExecutor on a real Work Queue manager with LocalProvider-launched workers."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import tv_apps
from tv_helpers import free_port, loaded

from parsl.data_provider.files import File
from parsl.executors import WorkQueueExecutor
from parsl.executors.errors import InvalidResourceSpecification
from parsl.providers import LocalProvider

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def wq(tmp_path_factory: Any) -> Iterator[WorkQueueExecutor]:
    port = free_port()
    ex = WorkQueueExecutor(port=port, address="127.0.0.1",
                           provider=LocalProvider(init_blocks=1, max_blocks=1))
    with loaded(ex, tmp_path_factory, port):
        yield ex


def test_python_app_returns_its_value(wq: WorkQueueExecutor) -> None:
    assert tv_apps.double(21).result(timeout=90) == 42


def test_remote_exception_keeps_type_and_message(wq: WorkQueueExecutor) -> None:
    with pytest.raises(KeyError, match="wq-key"):
        tv_apps.fail_with("wq-key").result(timeout=60)


def test_files_and_bash_stdout_are_staged(wq: WorkQueueExecutor, tmp_path: Any) -> None:
    src = tmp_path / "in.txt"
    src.write_text("1\n2\n")
    out = tmp_path / "out.txt"
    assert tv_apps.count_lines(inputs=[File(str(src))],
                               outputs=[File(str(out))]).result(timeout=60) == 2
    assert out.read_text() == "2\n"
    stdout = tmp_path / "echo.out"
    assert tv_apps.echo_to("hello-wq", stdout=str(stdout)).result(timeout=60) == 0
    assert stdout.read_text() == "hello-wq\n"


def test_cores_without_memory_and_disk_is_rejected(wq: WorkQueueExecutor) -> None:
    with pytest.raises(InvalidResourceSpecification, match="cores, memory, and disk") as info:
        tv_apps.double(1, parsl_resource_specification={"cores": 1}).result(timeout=30)
    assert "memory" in str(info.value) and info.value.invalid_keys == {"cores"}


def test_unknown_resource_key_is_rejected_naming_it(wq: WorkQueueExecutor) -> None:
    with pytest.raises(InvalidResourceSpecification, match="'exec_mode'"):
        tv_apps.double(1, parsl_resource_specification={"exec_mode": "serverless"}
                       ).result(timeout=30)


def test_full_resource_specification_runs(wq: WorkQueueExecutor) -> None:
    spec = {"cores": 1, "memory": 500, "disk": 100, "priority": 2, "running_time_min": 1}
    assert tv_apps.double(3, parsl_resource_specification=spec).result(timeout=60) == 6


def test_memory_over_the_limit_fails_naming_memory(wq: WorkQueueExecutor) -> None:
    """The task asks for 60 MB and touches 300 MB: the resource monitor stops it."""
    from parsl.executors.workqueue.errors import WorkQueueTaskFailure

    spec = {"cores": 1, "memory": 60, "disk": 100}
    with pytest.raises(WorkQueueTaskFailure, match=r"exceeded its memory \(limit 60 MB\)"):
        tv_apps.allocate_mb(300, parsl_resource_specification=spec).result(timeout=90)


def test_task_within_its_memory_limit_runs(wq: WorkQueueExecutor) -> None:
    spec = {"cores": 1, "memory": 400, "disk": 100}
    assert tv_apps.allocate_mb(50, 0.5, parsl_resource_specification=spec).result(timeout=90) \
        == 50 * 2**20
