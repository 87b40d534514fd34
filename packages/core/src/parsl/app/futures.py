"""DataFuture: the future of a file that a task produces or that staging brings in."""
from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any, Optional

from parsl.data_provider.files import File
from parsl.dataflow.leanfuture import LeanFuture

logger = logging.getLogger(__name__)


class DataFuture(LeanFuture):
    """Completes with ``file_obj`` once ``fut`` (the producing task, or a staging
    transfer) has completed, or with that future's exception."""

    def __init__(self, fut: Future[Any], file_obj: File, tid: Optional[int] = None) -> None:
        super().__init__()
        if not isinstance(file_obj, File):
            raise TypeError(f"DataFuture: file_obj must be a parsl File, got {file_obj!r}")
        self.file_obj = file_obj
        self.parent = fut
        self._tid = tid
        fut.add_done_callback(self._parent_done)

    def _parent_done(self, parent: Future[Any]) -> None:
        if parent.cancelled():
            self._mark_cancelled()
            return
        exc = parent.exception()
        if exc is not None:
            self.set_exception(exc)
        else:
            self.set_result(self.file_obj)

    @property
    def tid(self) -> Optional[int]:
        return self._tid

    @property
    def filepath(self) -> str:
        return self.file_obj.filepath

    @property
    def filename(self) -> str:
        return self.filepath

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} file={self.file_obj.url!r}>"
