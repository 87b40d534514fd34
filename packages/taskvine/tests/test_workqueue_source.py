"""WorkQueueExecutor(source=True): functions travel as source code, so an app whose
module the workers cannot import still runs; by value (the default) it cannot."""
from __future__ import annotations

import sys
from typing import Any, Callable

import pytest
from tv_helpers import free_port

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
