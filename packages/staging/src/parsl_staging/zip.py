"""Zip archives as staging targets: ``File("zip:/abs/path/run.zip/inside/out.txt")``.

:class:`ZipFileStaging` has Parsl's meaning: an output written by a task at
``<working_dir>/<member>`` is added to the archive after the task (and the loose file
removed); an input is extracted to ``<working_dir>/<member>`` before the task. Both run
as staging tasks in the submit process (Parsl's ``_parsl_internal`` executor), so the
workers must share the file system with the submit side. Without a ``working_dir`` the
submit side's current directory is used (Parsl fails instead).

Every access to an archive holds ``<archive>.lock`` (a :mod:`filelock` lock), so
concurrent writers to one archive, in one run or several, are safe. Extraction goes to a
temporary file renamed into place, streamed (memory does not grow with the member size).
"""
from __future__ import annotations

import logging
import os
import shutil
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Optional, Tuple

from parsl.data_provider.files import File
from parsl.data_provider.staging import Staging
from parsl_staging import tasks
from parsl_staging.errors import StagingError, ZipAuthorityError
from parsl_staging.transfer import CHUNK_SIZE, atomic_download, executor_working_dir

if TYPE_CHECKING:
    from parsl.app.futures import DataFuture
    from parsl.data_provider.data_manager import DataManager

logger = logging.getLogger(__name__)

__all__ = ["ZipAuthorityError", "ZipFileStaging", "zip_path_split"]

_INTERNAL_EXECUTOR = "_parsl_internal"


def zip_path_split(path: str) -> Tuple[str, str]:
    """Split the path of a ``zip:`` URL into the archive path and the member name
    (Parsl's function): ``/a/b.zip/c/d.txt`` -> ``("/a/b.zip", "c/d.txt")``."""
    index = path.find(".zip/")
    if index < 0:
        raise ValueError(f"zip: path {path!r} names no member: expected "
                         "'/path/to/archive.zip/member'")
    return path[:index + 4], path[index + 5:]


class ZipTransport:
    """Extracts members from and adds members to archives, under the archive's lock."""

    def download(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        import zipfile

        import filelock

        archive, member = zip_path_split(file.path)
        try:
            with filelock.FileLock(archive + ".lock"), zipfile.ZipFile(archive) as z, \
                    z.open(member) as source, \
                    atomic_download(local_path, file.url, file.checksum) as sink:
                while True:
                    block = source.read(CHUNK_SIZE)
                    if not block:
                        return sink.bytes
                    sink.write(block)
        except KeyError as e:
            raise StagingError(file.url, f"archive {archive} has no member {member!r}") from e
        except (OSError, zipfile.BadZipFile) as e:
            raise StagingError(file.url, f"{type(e).__name__}: {e}") from e

    def upload(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        import zipfile

        import filelock

        archive, member = zip_path_split(file.path)
        size = os.path.getsize(local_path)
        try:
            folder = os.path.dirname(archive)
            if folder:
                os.makedirs(folder, exist_ok=True)
            with filelock.FileLock(archive + ".lock"), \
                    zipfile.ZipFile(archive, mode="a", compression=zipfile.ZIP_DEFLATED) as z, \
                    open(local_path, "rb") as source, z.open(member, "w", force_zip64=True) \
                    as target:
                shutil.copyfileobj(source, target, CHUNK_SIZE)
        except (OSError, zipfile.BadZipFile) as e:
            raise StagingError(file.url, f"{type(e).__name__}: {e}", "out") from e
        os.remove(local_path)
        return size


class ZipFileStaging(Staging):
    """Stages ``zip:`` Files out into and in from zip archives (Parsl's provider)."""

    def __init__(self) -> None:
        self._transport = ZipTransport()

    def __repr__(self) -> str:
        return "ZipFileStaging()"

    def is_zip_url(self, file: File) -> bool:
        """Whether ``file`` is a ``zip:`` URL; one with a netloc raises ZipAuthorityError."""
        if file.scheme != "zip":
            return False
        if file.netloc != "":
            raise ZipAuthorityError(file)
        return True

    def can_stage_in(self, file: File) -> bool:
        return self.is_zip_url(file)

    def can_stage_out(self, file: File) -> bool:
        return self.is_zip_url(file)

    def _set_local_path(self, dm: DataManager, executor: str, file: File) -> None:
        _, member = zip_path_split(file.path)
        working_dir = executor_working_dir(dm, executor) or os.getcwd()
        file.local_path = os.path.join(os.path.abspath(working_dir), member)

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> Optional[DataFuture]:
        self._set_local_path(dm, executor, file)
        return tasks.separate_stage_in(dm, _INTERNAL_EXECUTOR, file, parent_fut,
                                       self._transport)

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        self._set_local_path(dm, executor, file)
        assert file.local_path is not None
        # The task writes its output there; Parsl creates the folder for it.
        os.makedirs(os.path.dirname(file.local_path), exist_ok=True)
        return tasks.separate_stage_out(dm, _INTERNAL_EXECUTOR, file, app_fu,
                                        self._transport)
