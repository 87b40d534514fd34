"""The module paths Parsl users and Parsl's documentation import from keep working."""
from __future__ import annotations

import importlib

import pytest

PATHS = [
    ("parsl", ["python_app", "bash_app", "join_app", "load", "clear", "dfk",
               "wait_for_current_tasks", "Config", "File", "AUTO_LOGNAME", "ThreadPoolExecutor",
               "set_stream_logger", "set_file_logger", "DataFlowKernel"]),
    ("parsl.app.app", ["python_app", "bash_app", "join_app"]),
    ("parsl.app.errors", ["AppException", "BashExitFailure", "MissingOutputs", "AppTimeout",
                          "BashAppNoReturn", "AppBadFormatting"]),
    ("parsl.app.futures", ["DataFuture"]),
    ("parsl.config", ["Config"]),
    ("parsl.dataflow.errors", ["DependencyError", "JoinError", "BadCheckpoint",
                               "ConfigurationError"]),
    ("parsl.dataflow.futures", ["AppFuture"]),
    ("parsl.dataflow.memoization", ["id_for_memo", "BasicMemoizer"]),
    ("parsl.dataflow.states", ["States", "FINAL_STATES", "FINAL_FAILURE_STATES"]),
    ("parsl.dataflow.dflow", ["DataFlowKernel", "DataFlowKernelLoader"]),
    ("parsl.data_provider.files", ["File"]),
    ("parsl.data_provider.staging", ["Staging"]),
    ("parsl.executors.threads", ["ThreadPoolExecutor"]),
    ("parsl.executors.base", ["ParslExecutor"]),
    ("parsl.executors.status_handling", ["BlockProviderExecutor"]),
    ("parsl.executors", ["ThreadPoolExecutor"]),
    ("parsl.jobs.states", ["JobState", "JobStatus"]),
    ("parsl.providers", ["LocalProvider"]),
    ("parsl.providers.base", ["ExecutionProvider"]),
    ("parsl.launchers", ["SimpleLauncher", "SingleNodeLauncher"]),
    ("parsl.serialize.errors", ["SerializationError", "DeserializationError"]),
    ("parsl.utils", ["get_all_checkpoints", "get_last_checkpoint"]),
    ("parsl.addresses", ["address_by_hostname", "address_by_route", "address_by_query",
                         "address_by_interface", "get_all_addresses"]),
]


@pytest.mark.parametrize("module, names", PATHS, ids=[p for p, _ in PATHS])
def test_module_path_exports_parsl_names(module, names):
    imported = importlib.import_module(module)
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"{module} lacks {missing}"
