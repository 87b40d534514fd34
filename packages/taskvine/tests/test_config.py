"""Import paths, registry entries and configuration errors (no manager is started)."""
from __future__ import annotations

import sys
from typing import Any

import pytest

from parsl.errors import BadParameter, OptionalModuleMissing
from parsl.executors.errors import InvalidResourceSpecification


def test_parsl_import_paths_give_the_same_classes() -> None:
    from parsl.executors import TaskVineExecutor as FromExecutors
    from parsl.executors import WorkQueueExecutor
    from parsl.executors.taskvine import (
        TaskVineExecutor,
        TaskVineFactoryConfig,
        TaskVineManagerConfig,
    )
    from parsl.executors.taskvine.factory_config import TaskVineFactoryConfig as FC
    from parsl.executors.taskvine.manager_config import TaskVineManagerConfig as MC
    from parsl.executors.workqueue.executor import WorkQueueExecutor as FromModule

    assert FromExecutors is TaskVineExecutor
    assert WorkQueueExecutor is FromModule
    assert (FC, MC) == (TaskVineFactoryConfig, TaskVineManagerConfig)


def test_both_executors_are_registered_under_kind_executor() -> None:
    from parsl.plugins import registry

    assert {"TaskVineExecutor", "WorkQueueExecutor"} <= set(registry.names("executor"))


def test_parsl_defaults_are_kept() -> None:
    from parsl.executors.taskvine import TaskVineFactoryConfig, TaskVineManagerConfig

    mc, fc = TaskVineManagerConfig(), TaskVineFactoryConfig()
    assert (mc.port, mc.shared_fs, mc.max_retries, mc.autocategory,
            mc.enable_peer_transfers) == (9123, False, 1, True, True)
    assert (fc.min_workers, fc.max_workers, fc.batch_type, fc.worker_executable,
            fc.worker_timeout) == (1, 1, "local", "vine_worker", 300)


def test_missing_ndcctools_names_what_to_install(monkeypatch: Any) -> None:
    from parsl.executors.taskvine import TaskVineExecutor

    monkeypatch.setitem(sys.modules, "ndcctools.taskvine", None)
    with pytest.raises(OptionalModuleMissing, match="conda-forge"):
        TaskVineExecutor()


@pytest.mark.parametrize("kwargs, field", [
    ({"worker_launch_method": "ssh"}, "worker_launch_method"),
    ({"function_exec_mode": "lambda"}, "function_exec_mode"),
])
def test_bad_executor_parameters_name_the_field(kwargs: Any, field: str) -> None:
    from parsl.executors.taskvine import TaskVineExecutor

    with pytest.raises(BadParameter, match=field):
        TaskVineExecutor(**kwargs)


def test_unknown_library_config_key_is_refused_naming_it() -> None:
    from parsl.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig

    with pytest.raises(BadParameter, match="slots"):
        TaskVineExecutor(manager_config=TaskVineManagerConfig(library_config={"slots": 2}))


def test_taskvine_unknown_resource_key_is_refused_before_anything_runs() -> None:
    from parsl.executors.taskvine import TaskVineExecutor

    with pytest.raises(InvalidResourceSpecification, match="walltime"):
        TaskVineExecutor().submit(print, {"walltime": 5})


def test_taskvine_negative_cores_is_refused_naming_the_value() -> None:
    from parsl.executors.taskvine import TaskVineExecutor

    with pytest.raises(InvalidResourceSpecification, match="-1"):
        TaskVineExecutor().submit(print, {"cores": -1})


def test_work_queue_pack_is_refused_with_the_reason() -> None:
    from parsl.executors import WorkQueueExecutor

    with pytest.raises(BadParameter, match="pack") as info:
        WorkQueueExecutor(pack=True)
    assert "poncho_package_create" in str(info.value) and "conda" in str(info.value)


def test_taskvine_app_pack_is_refused_naming_what_is_missing_and_the_alternative() -> None:
    from parsl.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig

    with pytest.raises(BadParameter, match="app_pack") as info:
        TaskVineExecutor(manager_config=TaskVineManagerConfig(app_pack=True))
    assert "micromamba" in str(info.value) and "env_pack" in str(info.value)


def test_unknown_autolabel_algorithm_is_refused_naming_the_choices() -> None:
    from parsl.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig

    with pytest.raises(BadParameter, match="'bucketing'") as info:
        TaskVineExecutor(manager_config=TaskVineManagerConfig(autolabel_algorithm="greedy"))
    assert "greedy" in str(info.value)


def test_work_queue_coprocess_with_autolabel_is_refused_with_the_reason() -> None:
    from parsl.executors import WorkQueueExecutor

    with pytest.raises(BadParameter, match="coprocess") as info:
        WorkQueueExecutor(coprocess=True, autolabel=True)
    assert "MONITOR_ERROR" in str(info.value)
