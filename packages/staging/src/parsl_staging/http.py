"""HTTP and HTTPS stage-in: ``File("https://host/path/data.csv")`` as a task input.

Parsl's two providers with Parsl's meaning: :class:`HTTPSeparateTaskStaging` downloads in
a staging task before the task (the task's worker must share the file system with the
staging task's worker), :class:`HTTPInTaskStaging` downloads inside the task itself.

Unlike Parsl, a download is checked: an HTTP error status (404, 500, ...) or a body
shorter than its Content-Length fails the transfer with the URL and the reason, and
nothing is left at the local path. Connection errors, timeouts, 5xx and 429 responses are
retried (see :class:`parsl_staging.Retry`). Downloads use urllib3, imported only when a
transfer runs; proxies from the usual environment variables (``https_proxy``,
``no_proxy``...) are honoured, and so is ``REQUESTS_CA_BUNDLE``.
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Union
from urllib.parse import urlsplit

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

_SCHEMES = ("http", "https")


class HTTPStatusError(StagingError):
    """The server answered with an error status; ``status`` is the code."""

    def __init__(self, url: str, reason: str, direction: str = "in",
                 status: int = 0) -> None:
        super().__init__(url, reason, direction)
        self.args = (url, reason, direction, status)
        self.status = status


def _is_transient(error: BaseException) -> bool:
    import urllib3

    if isinstance(error, HTTPStatusError):
        return error.status >= 500 or error.status == 429
    if isinstance(error, StagingError):
        return "shorter than" in error.reason
    if isinstance(error, urllib3.exceptions.SSLError):
        return False
    return isinstance(error, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError))


def _unwrapped(error: BaseException) -> BaseException:
    """The connection or read error behind urllib3's MaxRetryError."""
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, BaseException) else error


#: One urllib3 pool per (proxy, CA bundle, verify) in each process: connections to a
#: server are reused by later downloads of the same task and of later tasks.
_pools: Dict[Tuple[Optional[str], Union[bool, str]], Any] = {}
_pools_by_host: Dict[Tuple[str, Optional[str], Union[bool, str]], Any] = {}
_pools_lock = threading.Lock()


def _pool(url: str, verify: Union[bool, str]) -> Any:
    """The pool for ``url``; looked up by scheme, host and verify after the first call, as
    reading the proxy environment costs more than a small download's own work."""
    parts = urlsplit(url)
    shortcut = (parts.scheme, parts.hostname, verify)
    pool = _pools_by_host.get(shortcut)
    if pool is not None:
        return pool
    import urllib.request

    import urllib3

    proxy = None
    if not urllib.request.proxy_bypass(parts.hostname or ""):
        proxy = urllib.request.getproxies().get(parts.scheme)
    ca: Union[bool, str] = verify
    if verify is True:
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    key = (proxy, ca)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            options: Dict[str, Any] = {"num_pools": 32, "maxsize": 8, "block": False}
            if ca is False:
                options["cert_reqs"] = "CERT_NONE"
            elif isinstance(ca, str):
                options["ca_certs"] = ca
            pool = (urllib3.ProxyManager(proxy, **options) if proxy
                    else urllib3.PoolManager(**options))
            _pools[key] = pool
        _pools_by_host[shortcut] = pool
        return pool


class HTTPTransport:
    """Downloads one URL with urllib3: status and length checked, streamed in 1 MiB chunks
    to a temporary file, retried when transient, through the node cache unless
    ``cache_dir`` is None. (urllib3 rather than requests: requests costs several
    milliseconds per call, which a task staging many small files pays.)"""

    def __init__(self, timeout: float, retry: Retry, verify: Union[bool, str],
                 cache_dir: CacheSetting) -> None:
        self.timeout = timeout
        self.retry = retry
        self.verify = verify
        self.cache_dir = cache_dir

    def download(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        folder = cache_folder(self.cache_dir, file.url)
        if folder is None:
            fetched = self._download(file, local_path, task_id, None)
            assert fetched is not None, "an unconditional GET always has a body"
            return fetched.nbytes

        def fetch(path: str, known: Optional[Dict[str, str]]) -> Optional[Fetched]:
            return self._download(file, path, task_id, known)

        return stage_through_cache(folder, file.url, file.checksum, local_path, fetch,
                                   task_id)

    def _download(self, file: File, local_path: str, task_id: Optional[int],
                  known: Optional[Dict[str, str]]) -> Optional[Fetched]:
        try:
            return with_retries(lambda: self._attempt(file, local_path, known), self.retry,
                                _is_transient, file.url, task_id)
        except Exception as e:
            raise staging_error(file.url, _unwrapped(e)) from e

    def _attempt(self, file: File, local_path: str,
                 known: Optional[Dict[str, str]]) -> Optional[Fetched]:
        """One GET; conditional on the ``known`` validators (ETag, Last-Modified) when
        given, in which case a 304 answer returns None."""
        import urllib3

        url = file.url
        policy = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0,
                               redirect=10, raise_on_redirect=True, raise_on_status=False)
        headers: Dict[str, str] = {}
        if known:
            if "etag" in known:
                headers["If-None-Match"] = known["etag"]
            if "last-modified" in known:
                headers["If-Modified-Since"] = known["last-modified"]
        response = _pool(url, self.verify).request(
            "GET", url, headers=headers, preload_content=False, retries=policy,
            timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout))
        try:
            if response.status == 304 and headers:
                return None
            if response.status >= 300:
                raise HTTPStatusError(redact(url), f"HTTP status {response.status} "
                                      f"{response.reason}", "in", response.status)
            expected = response.headers.get("Content-Length")
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            with atomic_download(local_path, url, file.checksum) as sink:
                for chunk in response.stream(CHUNK_SIZE):
                    sink.write(chunk)
                if expected is not None and not encoded and sink.bytes != int(expected):
                    raise StagingError(redact(url), f"body of {sink.bytes} bytes is shorter "
                                       f"than its Content-Length of {expected} bytes")
            validators = {name.lower(): response.headers[name]
                          for name in ("ETag", "Last-Modified") if name in response.headers}
            return Fetched(sink.bytes, validators)
        finally:
            response.release_conn()

    def upload(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        raise StagingError(redact(file.url), "HTTP staging cannot stage out", "out")


class _HTTPStaging(Staging):
    """Options shared by both HTTP providers (all beyond Parsl, all keyword-only).

    ``timeout``: seconds for connecting and for each read of the response (default 60).
    ``retry``: how transient failures are retried (:class:`parsl_staging.Retry`).
    ``verify``: TLS verification: True (the system's CAs, or ``REQUESTS_CA_BUNDLE``),
    False, or the path of a CA bundle.
    ``cache_dir``: the per-node download cache, so a URL staged by several tasks on one
    node is downloaded once and then only revalidated with the server (see
    :mod:`parsl_staging.node_cache`). The default, :data:`parsl_staging.NODE_CACHE`, is
    ``$TMPDIR/parsl-staging-cache-<uid>`` on each worker node; a path names another
    folder (on the workers); None turns the cache off.
    """

    def __init__(self, *, timeout: float = 60.0, retry: Retry = DEFAULT_RETRY,
                 verify: Union[bool, str] = True,
                 cache_dir: Union[CacheSetting, os.PathLike[str]] = NODE_CACHE) -> None:
        owner = type(self).__name__
        self.timeout = check_timeout(timeout, owner)
        self.retry = check_retry(retry, owner)
        if not isinstance(verify, (bool, str)):
            raise TypeError(f"{owner}: verify must be a bool or a CA bundle path, "
                            f"got {verify!r}")
        self.verify = verify
        self.cache_dir = check_cache_dir(cache_dir, owner)
        self._transport = HTTPTransport(self.timeout, self.retry, self.verify,
                                        self.cache_dir)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(timeout={self.timeout!r}, retry={self.retry!r}, "
                f"verify={self.verify!r}, cache_dir={self.cache_dir!r})")

    def can_stage_in(self, file: File) -> bool:
        return file.scheme in _SCHEMES


class HTTPSeparateTaskStaging(_HTTPStaging):
    """Downloads HTTP(S) inputs in a separate staging task on the task's executor.

    The file lands at ``<working_dir>/<filename>`` (the executor's ``working_dir``, or the
    worker's current directory), so the task's worker must see the staging task's file
    system, as in Parsl.
    """

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> Optional[DataFuture]:
        file.local_path = local_path_for(executor_working_dir(dm, executor), file)
        return tasks.separate_stage_in(dm, executor, file, parent_fut, self._transport)


class HTTPInTaskStaging(_HTTPStaging):
    """Downloads HTTP(S) inputs inside the task, on its worker: no shared file system
    needed."""

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> None:
        file.local_path = local_path_for(executor_working_dir(dm, executor), file)

    def replace_task(self, dm: DataManager, executor: str, file: File,
                     func: Callable[..., Any]) -> Callable[..., Any]:
        return tasks.in_task_stage_in(func, self._transport, file)
