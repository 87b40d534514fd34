"""TaskVineExecutor: Parsl tasks as TaskVine tasks or serverless function calls.

See :mod:`parsl_taskvine._executor` for the submit side and
:mod:`parsl_taskvine._manager` for the manager process.
"""
from __future__ import annotations

import logging
import os
import shlex
import socket
from typing import Any, Dict, List, Optional

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.errors import BadParameter
from parsl.executors.errors import InvalidResourceSpecification
from parsl.providers.base import ExecutionProvider
from parsl_taskvine import _cctools
from parsl_taskvine._executor import CctoolsExecutor
from parsl_taskvine.errors import TaskVineManagerFailure, TaskVineTaskFailure
from parsl_taskvine.vine.factory_config import TaskVineFactoryConfig
from parsl_taskvine.vine.manager_config import TaskVineManagerConfig

logger = logging.getLogger(__name__)

__all__ = ["TaskVineExecutor"]

_LAUNCH_METHODS = ("factory", "provider", "manual")
_EXEC_MODES = ("regular", "serverless")
_SPEC_KEYS = frozenset({"cores", "memory", "disk", "gpus", "priority", "running_time_min",
                        "category", "exec_mode"})
#: Parsl's names of TaskVine's allocation modes (see parsl_taskvine._manager.AUTOLABEL_MODES).
_AUTOLABEL_ALGORITHMS = ("max-xput", "bucketing", "max")
_LIBRARY_KEYS = frozenset({"num_slots", "cores", "memory", "disk", "gpus", "exec_mode"})


class TaskVineExecutor(CctoolsExecutor):
    """Run Parsl apps on TaskVine workers.

    ``worker_launch_method``: ``'factory'`` (default: a ``vine_factory`` run by the
    manager process, configured by ``factory_config``), ``'provider'`` (blocks of
    ``provider``, default a LocalProvider with one block) or ``'manual'`` (you start
    ``vine_worker ADDRESS PORT`` yourself). ``function_exec_mode``: ``'regular'`` (each
    task a fresh ``python3`` process on the worker) or ``'serverless'`` (calls into a
    long-lived library process on the worker, configured by
    ``manager_config.library_config``); an app can choose per call with
    ``parsl_resource_specification={'exec_mode': ...}``.
    """

    _kind = "taskvine"
    _system = "TaskVine"

    @validate_init
    def __init__(self,
                 label: str = "TaskVineExecutor",
                 worker_launch_method: str = "factory",
                 function_exec_mode: str = "regular",
                 manager_config: Optional[TaskVineManagerConfig] = None,
                 factory_config: Optional[TaskVineFactoryConfig] = None,
                 provider: Optional[ExecutionProvider] = None,
                 storage_access: Optional[List[Staging]] = None,
                 remote_monitoring_radio: Optional[Any] = None) -> None:
        owner = type(self).__name__
        if worker_launch_method not in _LAUNCH_METHODS:
            raise BadParameter(owner, "worker_launch_method", worker_launch_method,
                               "one of 'factory', 'provider', 'manual'")
        if function_exec_mode not in _EXEC_MODES:
            raise BadParameter(owner, "function_exec_mode", function_exec_mode,
                               "one of 'regular', 'serverless'")
        manager_config = manager_config if manager_config is not None \
            else TaskVineManagerConfig()
        factory_config = factory_config if factory_config is not None \
            else TaskVineFactoryConfig()
        if worker_launch_method == "provider":
            if provider is None:
                from parsl.providers.local.local import LocalProvider

                provider = LocalProvider(init_blocks=1, max_blocks=1)
        else:
            provider = None
        _check_manager_config(owner, manager_config)
        _cctools.load("taskvine", owner)
        super().__init__(label=label, provider=provider, shared_fs=manager_config.shared_fs,
                         autocategory=manager_config.autocategory)
        self.worker_launch_method = worker_launch_method
        self.function_exec_mode = function_exec_mode
        self.manager_config = manager_config
        self.factory_config = factory_config
        self.storage_access = storage_access
        self.remote_monitoring_radio = remote_monitoring_radio
        if manager_config.address is not None:
            self.worker_address = manager_config.address
        elif worker_launch_method == "factory" and factory_config.batch_type == "local":
            self.worker_address = "127.0.0.1"
        else:
            self.worker_address = socket.getfqdn()

    def _resource_fields(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        unknown = set(spec) - _SPEC_KEYS
        if unknown:
            raise InvalidResourceSpecification(
                unknown, f"TaskVineExecutor {self.label}: unknown parsl_resource_specification "
                         f"keys {sorted(unknown)}; accepted: {sorted(_SPEC_KEYS)}")
        fields = self._numeric_fields(spec)
        if "category" in spec:
            if not isinstance(spec["category"], str) or not spec["category"]:
                raise InvalidResourceSpecification(
                    {"category"}, "parsl_resource_specification['category'] must be a "
                                  f"non-empty str, got {spec['category']!r}")
            fields["category"] = spec["category"]
        return fields

    def _task_mode(self, spec: Dict[str, Any]) -> str:
        mode = spec.get("exec_mode", self.function_exec_mode)
        if mode not in _EXEC_MODES:
            raise InvalidResourceSpecification(
                {"exec_mode"}, "parsl_resource_specification['exec_mode'] must be 'regular' "
                               f"or 'serverless', got {mode!r}")
        return str(mode)

    def _task_failure(self, reason: str, status: int) -> Exception:
        return TaskVineTaskFailure(reason, status)

    def _manager_failure(self, reason: str) -> Exception:
        return TaskVineManagerFailure(reason)

    def _worker_argv(self) -> List[str]:
        fc = self.factory_config
        argv = [_cctools.find_program(fc.worker_executable, type(self).__name__,
                                      "factory_config.worker_executable")]
        if self.manager_config.project_password_file:
            argv += ["--password", self.manager_config.project_password_file]
        argv += ["--timeout", str(fc.worker_timeout)]
        for name in ("cores", "memory", "disk", "gpus"):
            value = getattr(fc, name)
            if value is not None:
                argv.append(f"--{name}={value}")
        if fc.worker_options:
            argv += shlex.split(fc.worker_options)
        return argv

    def _factory_argv(self, log_dir: str) -> List[str]:
        fc = self.factory_config
        owner = type(self).__name__
        factory = _cctools.find_program("vine_factory", owner, "the worker factory")
        worker = _cctools.find_program(fc.worker_executable, owner,
                                       "factory_config.worker_executable")
        scratch = os.path.abspath(fc.scratch_dir or os.path.join(log_dir, "factory"))
        os.makedirs(scratch, exist_ok=True)
        extra = "--parent-death"
        if fc.worker_options:
            extra += " " + fc.worker_options
        argv = [factory, "-T", fc.batch_type, "--parent-death",
                f"--min-workers={fc.min_workers}", f"--max-workers={fc.max_workers}",
                f"--workers-per-cycle={fc.workers_per_cycle}",
                f"--timeout={fc.worker_timeout}", f"--factory-timeout={fc.factory_timeout}",
                f"--scratch-dir={scratch}", f"--worker-binary={worker}",
                f"--extra-options={extra}", "--factory-period=5"]
        for name in ("cores", "memory", "disk", "gpus"):
            value = getattr(fc, name)
            if value is not None:
                argv.append(f"--{name}={value}")
        if fc.batch_options:
            argv.append(f"--batch-options={fc.batch_options}")
        if fc.condor_requirements:
            argv.append(f"--condor-requirements={fc.condor_requirements}")
        if fc.python_env:
            argv.append(f"--poncho-env={fc.python_env}")
        if self.manager_config.project_password_file:
            argv.append(f"--password={self.manager_config.project_password_file}")
        return argv

    def _manager_config(self) -> Dict[str, Any]:
        mc = self.manager_config
        log_dir = os.path.abspath(self.executor_dir)
        config: Dict[str, Any] = {
            "port": mc.port,
            "project_name": mc.project_name,
            "project_password_file": mc.project_password_file,
            "env_vars": mc.env_vars,
            "init_command": mc.init_command,
            "env_pack": mc.env_pack,
            "max_retries": mc.max_retries,
            "library_config": mc.library_config,
            "autolabel": mc.autolabel,
            "autolabel_window": mc.autolabel_window,
            "autolabel_algorithm": mc.autolabel_algorithm,
            "enable_peer_transfers": mc.enable_peer_transfers,
            "wait_for_workers": mc.wait_for_workers,
            "tune_parameters": mc.tune_parameters,
            "worker_address": self.worker_address,
            "vine_log_dir": mc.vine_log_dir,
            "serverless_default": self.function_exec_mode == "serverless",
        }
        if mc.init_command:
            config["library_init"] = mc.init_command.strip().rstrip(";") + ";"
        if self.worker_launch_method == "factory":
            config["factory_argv"] = self._factory_argv(log_dir)
        return config


def _check_manager_config(owner: str, mc: TaskVineManagerConfig) -> None:
    def bad(field: str, expected: str) -> BadParameter:
        return BadParameter(owner, f"manager_config.{field}", getattr(mc, field), expected)

    if not isinstance(mc.port, int) or not 0 <= mc.port <= 65535:
        raise bad("port", "an int between 0 and 65535 (0: any free port)")
    if mc.project_password_file is not None and not os.path.isfile(mc.project_password_file):
        raise bad("project_password_file", "an existing file")
    if mc.max_retries is not None and (not isinstance(mc.max_retries, int)
                                       or mc.max_retries < 0):
        raise bad("max_retries", "an int >= 0, or None for unlimited retries")
    if mc.autolabel_algorithm not in _AUTOLABEL_ALGORITHMS:
        raise bad("autolabel_algorithm", "one of " + ", ".join(map(repr, _AUTOLABEL_ALGORITHMS)))
    if mc.autolabel_window is not None and (not isinstance(mc.autolabel_window, int)
                                            or mc.autolabel_window < 1):
        raise bad("autolabel_window", "an int >= 1, or None for TaskVine's default")
    if mc.app_pack:
        raise bad("app_pack", "False: packing a conda environment per app is not supported "
                              "here (Parsl builds one per app with cctools' "
                              "poncho_package_create, which needs conda or micromamba and "
                              "conda-forge access); pack the environment once with "
                              "`poncho_package_create SPEC env.tar.gz` and pass it as env_pack")
    if mc.env_pack is not None and not (mc.env_pack.endswith(".tar.gz")
                                        and os.path.isfile(mc.env_pack)):
        raise bad("env_pack", "the path of an existing poncho environment .tar.gz")
    if mc.library_config is not None:
        unknown = set(mc.library_config) - _LIBRARY_KEYS
        if unknown:
            raise bad("library_config", f"a dict with keys among {sorted(_LIBRARY_KEYS)} "
                                        f"(unknown: {sorted(unknown)})")
        if mc.library_config.get("exec_mode", "direct") not in ("direct", "fork"):
            raise bad("library_config", "exec_mode 'direct' or 'fork'")
