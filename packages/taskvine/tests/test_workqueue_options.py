"""WorkQueueExecutor options that change how tasks travel and run, on real workers:
``source`` (functions as source code), ``coprocess`` (long-lived worker processes) and
``autolabel`` (Work Queue labels each category's resources)."""
from __future__ import annotations

import sys
from typing import Any, Callable

import pytest
from tv_helpers import free_port, loaded

from parsl import python_app
from parsl.executors import WorkQueueExecutor
from parsl.providers import LocalProvider

pytestmark = pytest.mark.timeout(180)

_MODULE = '''
from parsl import python_app


@python_app(executors=["wq_source"])
def scaled(x, factor=3):
    import math
    return math.floor(x * factor)


def plain(x):
    return -x
'''


@pytest.fixture
def submit_only_module(tmp_path: Any, monkeypatch: Any) -> Any:
    """A module importable here but not on the workers (its folder is on this process's
    sys.path only; workers inherit PYTHONPATH, which does not name it)."""
    folder = tmp_path / "submit_only"
    folder.mkdir()
    (folder / "submit_only_apps.py").write_text(_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    import submit_only_apps

    yield submit_only_apps
    sys.modules.pop("submit_only_apps", None)


def test_source_runs_apps_whose_module_workers_cannot_import(
        submit_only_module: Any, load_config: Callable[..., Any]) -> None:
    def executor(label: str, source: bool) -> WorkQueueExecutor:
        return WorkQueueExecutor(label=label, port=free_port(), address="127.0.0.1",
                                 source=source,
                                 provider=LocalProvider(init_blocks=1, max_blocks=1))

    load_config(executor("wq_source", True), executor("wq_value", False))
    assert submit_only_module.scaled(7).result(timeout=90) == 21
    assert python_app(submit_only_module.plain, executors=["wq_source"])(4).result(
        timeout=60) == -4
    by_value = python_app(submit_only_module.plain, executors=["wq_value"])(4)
    with pytest.raises(ModuleNotFoundError, match="submit_only_apps"):
        by_value.result(timeout=60)


def test_coprocess_runs_tasks_in_long_lived_worker_processes(tmp_path_factory: Any) -> None:
    """Every task of a coprocess executor runs in one of the worker's coprocesses (one
    per core), never in a fresh python3 per task: few distinct pids for many tasks."""
    import tv_apps

    port = free_port()
    executor = WorkQueueExecutor(port=port, address="127.0.0.1", coprocess=True,
                                 worker_options="--cores=2",
                                 provider=LocalProvider(init_blocks=1, max_blocks=1))
    with loaded(executor, tmp_path_factory, port):  # also: no coprocess is left behind
        spec = {"cores": 1, "memory": 100, "disk": 100}
        pids = [tv_apps.pid_and_parent(parsl_resource_specification=spec if i % 2 else {}
                                       ).result(timeout=90) for i in range(6)]
        assert len({pid for pid, _ in pids}) <= 2, pids
        assert all("parsl_taskvine._coprocess" in command for _, command in pids), pids
        with pytest.raises(KeyError, match="in-coprocess"):
            tv_apps.fail_with("in-coprocess").result(timeout=60)


def test_autolabel_lets_tasks_give_cores_alone_and_labels_their_category(
        tmp_path_factory: Any) -> None:
    """Work Queue's transaction log records the category's allocation mode."""
    import os

    import tv_apps

    port = free_port()
    executor = WorkQueueExecutor(port=port, address="127.0.0.1", autolabel=True,
                                 autolabel_window=1,
                                 provider=LocalProvider(init_blocks=1, max_blocks=1))
    with loaded(executor, tmp_path_factory, port):
        assert tv_apps.double(4, parsl_resource_specification={"cores": 1}).result(
            timeout=90) == 8
        log = os.path.join(executor.executor_dir, "transaction_log")
    with open(log) as f:
        text = f.read()
    assert "CATEGORY double FIRST MAX_THROUGHPUT" in text, text[-2000:]
