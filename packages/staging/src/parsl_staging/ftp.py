"""FTP staging: ``File("ftp://user:password@host:2121/path/data.csv")``.

Parsl's two providers with Parsl's meaning: :class:`FTPSeparateTaskStaging` transfers in a
separate staging task on the task's executor, :class:`FTPInTaskStaging` inside the task.
Beyond Parsl: URLs with a port and with ``user:password@`` work (anonymous login
otherwise), outputs can be staged out (uploaded, then renamed into place on the server),
every connection has a timeout, the size of a download is checked against the server's
SIZE, and temporary failures (FTP 4xx replies, connection errors, timeouts) are retried.
Downloads go through the per-node cache (:mod:`parsl_staging.node_cache`) like HTTP's,
revalidated with the server's MDTM and SIZE of the file: a file the server cannot give
both for is downloaded every time.
"""
from __future__ import annotations

import ftplib
import logging
import os
import posixpath
import socket
import uuid
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, TypeVar, Union
from urllib.parse import unquote, urlsplit

from parsl.data_provider.files import File
from parsl.data_provider.staging import Staging
from parsl_staging import tasks
from parsl_staging.errors import StagingError
from parsl_staging.node_cache import (
    NODE_CACHE,
    CacheSetting,
    Fetched,
    cache_folder,
    check_cache_dir,
    stage_through_cache,
)
from parsl_staging.transfer import (
    CHUNK_SIZE,
    DEFAULT_RETRY,
    Retry,
    atomic_download,
    check_retry,
    check_timeout,
    executor_working_dir,
    local_path_for,
    redact,
    staging_error,
    with_retries,
)

if TYPE_CHECKING:
    from parsl.app.futures import DataFuture
    from parsl.data_provider.data_manager import DataManager

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _is_transient(error: BaseException) -> bool:
    """FTP 4xx replies and lost or refused connections; not 5xx (login incorrect, no
    such file, permission denied) nor local file errors."""
    return isinstance(error, (ftplib.error_temp, ftplib.error_reply, EOFError,
                              ConnectionError, TimeoutError, socket.timeout,
                              socket.gaierror))


class FTPTransport:
    """Downloads and uploads one file with :mod:`ftplib`; downloads through the node cache
    unless ``cache_dir`` is None."""

    def __init__(self, timeout: float, retry: Retry,
                 cache_dir: CacheSetting = None) -> None:
        self.timeout = timeout
        self.retry = retry
        self.cache_dir = cache_dir

    def _connect(self, url: str) -> ftplib.FTP:
        parts = urlsplit(url)
        if not parts.hostname:
            raise StagingError(redact(url), "the URL names no host")
        ftp = ftplib.FTP(timeout=self.timeout)
        try:
            ftp.connect(parts.hostname, parts.port or 21)
            ftp.login(unquote(parts.username) if parts.username else "anonymous",
                      unquote(parts.password) if parts.password else "anonymous@")
            ftp.voidcmd("TYPE I")
        except BaseException:
            ftp.close()
            raise
        return ftp

    def download(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        folder = cache_folder(self.cache_dir, file.url)
        if folder is None:
            fetched = self._fetch(file, local_path, task_id, None, revalidate=False)
            assert fetched is not None, "a fetch without validators always downloads"
            return fetched.nbytes

        def fetch(path: str, known: Optional[Dict[str, str]]) -> Optional[Fetched]:
            return self._fetch(file, path, task_id, known, revalidate=True)

        return stage_through_cache(folder, file.url, file.checksum, local_path, fetch,
                                   task_id)

    def _fetch(self, file: File, local_path: str, task_id: Optional[int],
               known: Optional[Dict[str, str]], revalidate: bool) -> Optional[Fetched]:
        """RETR into ``local_path``; with ``revalidate``, first the file's MDTM and SIZE,
        and nothing more when they are the ``known`` ones (returns None)."""
        def attempt() -> Optional[Fetched]:
            ftp = self._connect(file.url)
            try:
                path = unquote(file.path)
                expected = _size(ftp, path)
                modified = _mdtm(ftp, path) if revalidate else None
                validators: Dict[str, str] = {}
                if modified is not None and expected is not None:
                    validators = {"mdtm": modified, "size": str(expected)}
                if known and validators == known:
                    return None
                with atomic_download(local_path, file.url, file.checksum) as sink:
                    ftp.retrbinary(f"RETR {path}", sink.write, blocksize=CHUNK_SIZE)
                    if expected is not None and sink.bytes != expected:
                        raise EOFError(f"received {sink.bytes} bytes, the server's SIZE "
                                       f"is {expected}")
                return Fetched(sink.bytes, validators)
            finally:
                _quit(ftp)

        return self._run(attempt, file, task_id, "in")

    def upload(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        def attempt() -> int:
            ftp = self._connect(file.url)
            try:
                path = unquote(file.path)
                folder, name = posixpath.split(path)
                temporary = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.part")
                with open(local_path, "rb") as handle:
                    try:
                        ftp.storbinary(f"STOR {temporary}", handle, blocksize=CHUNK_SIZE)
                        ftp.rename(temporary, path)
                    except BaseException:
                        _delete_quietly(ftp, temporary)
                        raise
                return os.path.getsize(local_path)
            finally:
                _quit(ftp)

        return self._run(attempt, file, task_id, "out")

    def _run(self, attempt: Callable[[], T], file: File, task_id: Optional[int],
             direction: str) -> T:
        try:
            return with_retries(attempt, self.retry, _is_transient, file.url, task_id)
        except Exception as e:
            raise staging_error(file.url, e, direction) from e


def _size(ftp: ftplib.FTP, path: str) -> Optional[int]:
    try:
        return ftp.size(path)
    except ftplib.error_perm as e:
        if str(e).startswith("550"):
            raise
        return None


def _mdtm(ftp: ftplib.FTP, path: str) -> Optional[str]:
    """The file's modification time as the server gives it (None: MDTM unsupported)."""
    try:
        return ftp.voidcmd(f"MDTM {path}").split(None, 1)[1].strip()
    except ftplib.error_perm as e:
        if str(e).startswith("550"):
            raise
        return None
    except IndexError:
        return None


def _delete_quietly(ftp: ftplib.FTP, path: str) -> None:
    try:
        ftp.delete(path)
    except (ftplib.Error, OSError, EOFError) as e:
        logger.debug("could not remove partial upload %s: %s", path, e)


def _quit(ftp: ftplib.FTP) -> None:
    try:
        ftp.quit()
    except (ftplib.Error, OSError, EOFError):
        ftp.close()


class _FTPStaging(Staging):
    """Options shared by both FTP providers (beyond Parsl, keyword-only).

    ``timeout``: seconds for connecting and for each network operation (default 60).
    ``retry``: how transient failures are retried (:class:`parsl_staging.Retry`).
    ``cache_dir``: the per-node download cache, revalidated with MDTM and SIZE (see
    :mod:`parsl_staging.node_cache`): :data:`parsl_staging.NODE_CACHE` (the default,
    ``$TMPDIR/parsl-staging-cache-<uid>`` on each worker node), a folder, or None (off).
    """

    def __init__(self, *, timeout: float = 60.0, retry: Retry = DEFAULT_RETRY,
                 cache_dir: Union[CacheSetting, os.PathLike[str]] = NODE_CACHE) -> None:
        owner = type(self).__name__
        self.timeout = check_timeout(timeout, owner)
        self.retry = check_retry(retry, owner)
        self.cache_dir = check_cache_dir(cache_dir, owner)
        self._transport = FTPTransport(self.timeout, self.retry, self.cache_dir)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(timeout={self.timeout!r}, retry={self.retry!r}, "
                f"cache_dir={self.cache_dir!r})")

    def can_stage_in(self, file: File) -> bool:
        return file.scheme == "ftp"

    def can_stage_out(self, file: File) -> bool:
        return file.scheme == "ftp"

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        file.local_path = local_path_for(executor_working_dir(dm, executor), file)
        return None


class FTPSeparateTaskStaging(_FTPStaging):
    """Transfers FTP files in separate staging tasks on the task's executor (the task's
    worker must share the staging task's file system, as in Parsl)."""

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> Optional[DataFuture]:
        file.local_path = local_path_for(executor_working_dir(dm, executor), file)
        return tasks.separate_stage_in(dm, executor, file, parent_fut, self._transport)

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        super().stage_out(dm, executor, file, app_fu)
        return tasks.separate_stage_out(dm, executor, file, app_fu, self._transport)


class FTPInTaskStaging(_FTPStaging):
    """Transfers FTP files inside the task, on its worker."""

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> None:
        file.local_path = local_path_for(executor_working_dir(dm, executor), file)

    def replace_task(self, dm: DataManager, executor: str, file: File,
                     func: Callable[..., Any]) -> Callable[..., Any]:
        return tasks.in_task_stage_in(func, self._transport, file)

    def replace_task_stage_out(self, dm: DataManager, executor: str, file: File,
                               func: Callable[..., Any]) -> Callable[..., Any]:
        return tasks.in_task_stage_out(func, self._transport, file)
