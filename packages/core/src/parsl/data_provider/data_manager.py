"""Routes each File argument and output of a task to a staging provider.

An executor's ``storage_access`` is its ordered list of staging providers: for each file
the first provider whose ``can_stage_in``/``can_stage_out`` accepts it does the staging.
``storage_access=None`` means :data:`default_staging`; ``storage_access=[]`` means that
no file can be staged, so passing any File to an app on that executor is an error at the
app call.

``default_staging`` is a module-level list, as in Parsl, so configs can extend it::

    from parsl.data_provider.data_manager import default_staging
    HighThroughputExecutor(storage_access=default_staging + [GlobusStaging(...)])

It holds the no-op provider for local files, then (when parsl-staging is installed)
``FTPSeparateTaskStaging``, ``HTTPSeparateTaskStaging`` and ``ZipFileStaging``. It is
built on first access, so importing this module neither scans entry points nor imports
parsl-staging.
"""
from __future__ import annotations

import contextvars
import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from parsl.data_provider.file_noop import NoOpFileStaging
from parsl.data_provider.files import File
from parsl.data_provider.staging import Staging
from parsl.errors import ConfigurationError

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel

logger = logging.getLogger(__name__)

#: parsl-staging providers in the default list, in Parsl's order, when installed.
DEFAULT_STAGING_NAMES = ("FTPSeparateTaskStaging", "HTTPSeparateTaskStaging",
                         "ZipFileStaging")


#: Id of the task whose files are being staged, while the DFK calls staging providers;
#: providers may read it to name the task in their logs (Parsl passes no task to them).
staging_task_id: contextvars.ContextVar[Optional[int]] = contextvars.ContextVar(
    "parsl_staging_task_id", default=None)


class NoStagingProviderError(ConfigurationError, ValueError):
    """No staging provider of an executor accepts a file (Parsl raises ValueError here).

    ``executor`` is the executor label, ``file`` the File and ``direction`` ``"in"`` or
    ``"out"``.
    """

    def __init__(self, executor: str, file: File, direction: str,
                 providers: Sequence[Staging]) -> None:
        self.executor = executor
        self.file = file
        self.direction = direction
        names = ", ".join(type(p).__name__ for p in providers)
        if providers:
            hint = (f"its storage_access is [{names}]; add a provider that accepts scheme "
                    f"{file.scheme!r}")
        else:
            hint = ("its storage_access is [], which stages nothing; use "
                    "storage_access=None for the default providers")
        if file.scheme != "file":
            hint += " (pip install parsl-staging provides HTTP, FTP, rsync, Globus and zip)"
        super().__init__(f"executor {executor!r} cannot stage {direction} file "
                         f"{file.url!r}: {hint}")


def _build_default_staging() -> List[Staging]:
    providers: List[Staging] = [NoOpFileStaging()]
    from parsl.plugins import registry

    installed = set(registry.names("staging"))
    for name in DEFAULT_STAGING_NAMES:
        if name in installed:
            providers.append(registry.load("staging", name)())
    logger.debug("default staging providers: %s", providers)
    return providers


def __getattr__(name: str) -> Any:
    if name == "default_staging":
        value = _build_default_staging()
        globals()["default_staging"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _default_staging() -> List[Staging]:
    value = globals().get("default_staging")
    if value is None:
        value = __getattr__("default_staging")
    return value  # type: ignore[no-any-return]


class DataManager:
    """Finds each file's staging provider and lets it add transfers to the task graph.

    The methods and their arguments are Parsl's, so staging providers written for Parsl
    (which call ``dm.dfk`` and these methods) work unchanged.
    """

    def __init__(self, dfk: DataFlowKernel) -> None:
        self.dfk = dfk

    def storage_access(self, executor: str) -> Sequence[Staging]:
        """The providers used for files of ``executor``'s tasks."""
        storage = getattr(self.dfk.executors[executor], "storage_access", None)
        if storage is None:
            return _default_staging()
        return storage  # type: ignore[no-any-return]

    def _find(self, executor: str, file: File, stage_in: bool) -> Staging:
        providers = self.storage_access(executor)
        for provider in providers:
            if provider.can_stage_in(file) if stage_in else provider.can_stage_out(file):
                return provider
        raise NoStagingProviderError(executor, file, "in" if stage_in else "out", providers)

    def optionally_stage_in(self, input: Any, func: Callable[..., Any],
                            executor: str) -> Tuple[Any, Callable[..., Any]]:
        """Stage ``input`` if it is a File or DataFuture; return what the task receives
        instead of it and the (possibly wrapped) task function.

        Staging works on a clean copy of the File, so a provider may set ``local_path``
        on it without changing the user's File or another task's staging of it.
        """
        from parsl.app.futures import DataFuture

        if isinstance(input, DataFuture):
            file = input.file_obj.cleancopy()
            input = DataFuture(input, file, tid=input.tid)
        elif isinstance(input, File):
            file = input.cleancopy()
            input = file
        else:
            return input, func
        provider = self._find(executor, file, stage_in=True)
        parent = input if isinstance(input, Future) else None
        staged = provider.stage_in(self, executor, file, parent)
        func = provider.replace_task(self, executor, file, func) or func
        return (staged if staged is not None else input), func

    def replace_task(self, file: File, func: Callable[..., Any],
                     executor: str) -> Callable[..., Any]:
        """Let the provider of ``file`` wrap ``func`` to stage it in inside the task."""
        provider = self._find(executor, file, stage_in=True)
        return provider.replace_task(self, executor, file, func) or func

    def stage_in(self, file: File, input: Any, executor: str) -> Any:
        """Return what the task should receive for ``input``: ``input`` itself, or a
        DataFuture that completes when the file has been staged in."""
        provider = self._find(executor, file, stage_in=True)
        parent = input if isinstance(input, Future) else None
        staged = provider.stage_in(self, executor, file, parent)
        return staged if staged is not None else input

    def replace_task_stage_out(self, file: File, func: Callable[..., Any],
                               executor: str) -> Callable[..., Any]:
        """Let the provider of ``file`` wrap ``func`` to stage it out inside the task."""
        provider = self._find(executor, file, stage_in=False)
        return provider.replace_task_stage_out(self, executor, file, func) or func

    def stage_out(self, file: File, executor: str,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        """Start staging ``file`` out after ``app_fu``; return the future of that
        transfer, or None when the task's completion is all there is to wait for."""
        provider = self._find(executor, file, stage_in=False)
        return provider.stage_out(self, executor, file, app_fu)
