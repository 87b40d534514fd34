"""Routes each File argument and output of a task to a staging provider."""
from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence

from parsl.data_provider.file_noop import NoOpFileStaging
from parsl.data_provider.files import File
from parsl.data_provider.staging import Staging
from parsl.errors import ConfigurationError

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel

logger = logging.getLogger(__name__)

#: Staging providers Parsl uses when an executor sets no ``storage_access``; the ones from
#: parsl-staging are added when that distribution is installed.
DEFAULT_STAGING_NAMES = ("HTTPSeparateTaskStaging", "FTPSeparateTaskStaging")


def default_staging() -> List[Staging]:
    providers: List[Staging] = [NoOpFileStaging()]
    from parsl.plugins import registry

    installed = {c.name for c in registry.components("staging")}
    for name in DEFAULT_STAGING_NAMES:
        if name in installed:
            providers.append(registry.load("staging", name)())
    return providers


class DataManager:
    """Chooses, for each file, the first of the executor's staging providers that accepts it."""

    def __init__(self, dfk: DataFlowKernel) -> None:
        self.dfk = dfk
        self._default: Optional[List[Staging]] = None

    def _providers(self, executor: str) -> Sequence[Staging]:
        storage = getattr(self.dfk.executors[executor], "storage_access", None)
        if storage:
            return storage  # type: ignore[no-any-return]
        if self._default is None:
            self._default = default_staging()
        return self._default

    def _find(self, executor: str, file: File, stage_in: bool) -> Staging:
        providers = self._providers(executor)
        for provider in providers:
            if (provider.can_stage_in(file) if stage_in else provider.can_stage_out(file)):
                return provider
        direction = "in" if stage_in else "out"
        names = ", ".join(type(p).__name__ for p in providers)
        raise ConfigurationError(
            f"no staging provider of executor {executor!r} can stage {direction} "
            f"{file.url!r} (scheme {file.scheme!r}); its storage_access is [{names}]. "
            "Add a provider for this scheme (pip install parsl-staging provides "
            "HTTP, FTP, rsync, Globus and zip staging)")

    def replace_task(self, file: File, func: Callable[..., Any],
                     executor: str) -> Callable[..., Any]:
        provider = self._find(executor, file, stage_in=True)
        return provider.replace_task(self, executor, file, func) or func

    def stage_in(self, file: File, input: Any, executor: str) -> Any:
        """Return what the task should receive for ``input``: the File, or a DataFuture
        that completes when the file has been staged in."""
        provider = self._find(executor, file, stage_in=True)
        parent = input if isinstance(input, Future) else None
        staged = provider.stage_in(self, executor, file, parent)
        return staged if staged is not None else input

    def replace_task_stage_out(self, file: File, func: Callable[..., Any],
                               executor: str) -> Callable[..., Any]:
        provider = self._find(executor, file, stage_in=False)
        return provider.replace_task_stage_out(self, executor, file, func) or func

    def stage_out(self, file: File, executor: str,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        provider = self._find(executor, file, stage_in=False)
        return provider.stage_out(self, executor, file, app_fu)
