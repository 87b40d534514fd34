"""WorkQueueExecutor: Parsl tasks as Work Queue tasks on provider-launched workers."""
from __future__ import annotations

import logging
import os
import shlex
import socket
import sys
from typing import Any, Dict, List, Optional

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.errors import BadParameter
from parsl.executors.errors import InvalidResourceSpecification
from parsl.providers.base import ExecutionProvider
from parsl_taskvine import _cctools
from parsl_taskvine._executor import CctoolsExecutor
from parsl_taskvine.errors import WorkQueueFailure, WorkQueueTaskFailure

logger = logging.getLogger(__name__)

__all__ = ["WORK_QUEUE_DEFAULT_PORT", "WorkQueueExecutor"]

#: Work Queue's default port, written out so that importing this does not load ndcctools.
WORK_QUEUE_DEFAULT_PORT = 9123
_SPEC_KEYS = frozenset({"cores", "memory", "disk", "gpus", "priority", "running_time_min"})
_ALL_OR_NONE = frozenset({"cores", "memory", "disk"})


class WorkQueueExecutor(CctoolsExecutor):
    """Run Parsl apps on Work Queue workers started in blocks of ``provider``.

    Parameters keep Parsl's names, defaults and meaning: ``project_name`` and
    ``project_password_file``, ``address`` (how workers reach this host; default this
    host's name) and ``port`` (0: any free port), ``env`` (environment variables of
    every task), ``shared_fs``, ``use_cache`` (workers cache input files),
    ``autolabel``/``autolabel_window``/``autocategory``, ``max_retries`` (Work Queue
    level, None for unlimited), ``init_command`` (run before each task),
    ``worker_options`` and ``worker_executable`` (the provider's worker command line),
    ``full_debug`` (Work Queue debug log in the executor's run folder), ``function_dir``
    (where task and result files are kept; default the run folder) and
    ``scaling_cores_per_worker``. ``source=True`` sends each plain function as its source
    code, executed on the worker in a fresh namespace (so the app must import what it
    uses inside its body, and its module need not be importable there); functions
    without source, with a closure or wrapped (bash apps, walltime) still go by value.
    ``coprocess=True`` starts workers with ``--coprocess``: a long-lived Python per worker
    slot (:mod:`parsl_taskvine._coprocess`) runs the tasks, so none pays for a new
    interpreter; Work Queue does not run the resource monitor on coprocess tasks, so their
    memory and disk limits are not enforced (and ``autolabel`` is refused with it).
    ``pack``/``extra_pkgs`` (conda-pack per app) are refused.
    """

    _kind = "workqueue"
    _system = "Work Queue"

    @validate_init
    def __init__(self,
                 label: str = "WorkQueueExecutor",
                 provider: Optional[ExecutionProvider] = None,
                 working_dir: str = ".",
                 project_name: Optional[str] = None,
                 project_password_file: Optional[str] = None,
                 address: Optional[str] = None,
                 port: int = WORK_QUEUE_DEFAULT_PORT,
                 env: Optional[Dict[str, Any]] = None,
                 shared_fs: bool = False,
                 storage_access: Optional[List[Staging]] = None,
                 use_cache: bool = False,
                 source: bool = False,
                 pack: bool = False,
                 extra_pkgs: Optional[List[str]] = None,
                 autolabel: bool = False,
                 autolabel_window: int = 1,
                 autocategory: bool = True,
                 max_retries: Optional[int] = 1,
                 init_command: str = "",
                 worker_options: str = "",
                 full_debug: bool = True,
                 worker_executable: str = "work_queue_worker",
                 function_dir: Optional[str] = None,
                 coprocess: bool = False,
                 scaling_cores_per_worker: int = 1,
                 remote_monitoring_radio: Optional[Any] = None) -> None:
        owner = type(self).__name__

        def bad(name: str, value: Any, expected: str) -> BadParameter:
            return BadParameter(owner, name, value, expected)

        if not 0 <= port <= 65535:
            raise bad("port", port, "an int between 0 and 65535 (0: any free port)")
        if project_password_file is not None and not os.path.isfile(project_password_file):
            raise bad("project_password_file", project_password_file, "an existing file")
        if max_retries is not None and max_retries < 0:
            raise bad("max_retries", max_retries, "an int >= 0, or None for unlimited")
        if autolabel_window < 1:
            raise bad("autolabel_window", autolabel_window, "an int >= 1")
        if scaling_cores_per_worker < 1:
            raise bad("scaling_cores_per_worker", scaling_cores_per_worker, "an int >= 1")
        if coprocess and autolabel:
            raise bad("coprocess", coprocess,
                      "False when autolabel=True: autolabel needs Work Queue's resource "
                      "monitor, which does not run coprocess tasks (they would all fail "
                      "with MONITOR_ERROR)")
        if pack:
            raise bad("pack", pack, "False: packing a conda environment per app is not "
                                    "supported here (Parsl builds one per app with cctools' "
                                    "poncho_package_create, which needs conda or micromamba "
                                    "and conda-forge access); install the apps' packages in "
                                    "the workers' Python instead")
        _cctools.load("work_queue", owner)
        if provider is None:
            from parsl.providers.local.local import LocalProvider

            provider = LocalProvider(init_blocks=1, max_blocks=1)
        super().__init__(label=label, provider=provider, shared_fs=shared_fs,
                         autocategory=autocategory)
        self.working_dir = working_dir
        self.project_name = project_name
        self.project_password_file = project_password_file
        self.address = address
        self.port = port
        self.env = env
        self.storage_access = storage_access
        self.use_cache = use_cache
        self.source = source
        self._send_source = source
        self.pack = pack
        self.extra_pkgs = extra_pkgs or []
        self.autolabel = autolabel
        self.autolabel_window = autolabel_window
        self.max_retries = max_retries
        self.init_command = init_command
        self.worker_options = worker_options
        self.full_debug = full_debug
        self.worker_executable = worker_executable
        self.function_dir = function_dir
        self.coprocess = coprocess
        self.scaling_cores_per_worker = scaling_cores_per_worker
        self.remote_monitoring_radio = remote_monitoring_radio
        self.worker_address = address if address is not None else socket.getfqdn()

    @property
    def workers_per_node(self) -> int | float:
        cores = getattr(self.provider, "cores_per_node", None)
        if cores:
            return max(1, int(cores) // self.scaling_cores_per_worker)
        return 1

    def _resource_fields(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        keys = set(spec)
        if not keys <= _SPEC_KEYS:
            raise InvalidResourceSpecification(
                keys, "Task resource specification only accepts these types of resources: "
                      f"{', '.join(sorted(_SPEC_KEYS))} (unknown: {sorted(keys - _SPEC_KEYS)})")
        given = keys & _ALL_OR_NONE
        if not self.autolabel and given and given != _ALL_OR_NONE:
            raise InvalidResourceSpecification(
                keys, "Task resource specification requires three resources to be specified "
                      "simultaneously: cores, memory, and disk (missing: "
                      f"{', '.join(sorted(_ALL_OR_NONE - given))}). Try setting "
                      "autolabel=True if you are unsure of the resource usage")
        return self._numeric_fields(spec)

    def _task_failure(self, reason: str, status: int) -> Exception:
        return WorkQueueTaskFailure(reason, status)

    def _manager_failure(self, reason: str) -> Exception:
        return WorkQueueFailure(reason)

    def _worker_argv(self) -> List[str]:
        argv = [_cctools.find_program(self.worker_executable, type(self).__name__,
                                      "worker_executable")]
        if self.project_password_file:
            argv += ["--password", self.project_password_file]
        if self.coprocess:
            argv += ["--coprocess", self._coprocess_launcher()]
        if self.worker_options:
            argv += shlex.split(self.worker_options)
        return argv

    def _coprocess_launcher(self) -> str:
        """An executable that starts :mod:`parsl_taskvine._coprocess` with this Python
        (``--coprocess`` takes a program path, not a command line)."""
        path = os.path.join(os.path.abspath(self.executor_dir), "parsl_coprocess")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m parsl_taskvine._coprocess\n")
        os.chmod(path, 0o755)
        return path

    def _manager_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {
            "port": self.port,
            "project_name": self.project_name,
            "project_password_file": self.project_password_file,
            "env_vars": self.env,
            "init_command": self.init_command,
            "max_retries": self.max_retries,
            "autolabel": self.autolabel,
            "autolabel_window": self.autolabel_window,
            "full_debug": self.full_debug,
            "coprocess": self.coprocess,
            "cache_inputs": self.use_cache,
            "worker_address": self.worker_address,
        }
        if self.function_dir is not None:
            config["staging_dir_override"] = self.function_dir
        return config
