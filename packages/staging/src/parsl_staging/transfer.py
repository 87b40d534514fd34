"""What every transfer of parsl-staging does, whatever the protocol.

- Retries: transient failures (decided by each protocol) are retried with exponential
  backoff and full jitter, a bounded number of times (:class:`Retry`, per provider).
- Atomic downloads: data goes to a temporary file next to the destination, which is
  renamed into place only when complete and verified, so a failed transfer never leaves a
  partial or wrong file at ``local_path``.
- Checksums: a File's optional ``checksum`` is computed while the bytes are written.
- Logging: bytes and rate at DEBUG, with the task id when one is known.
- Local paths: Parsl's ``<working_dir>/<filename>``, except that a second URL with the
  same file name gets its own sub-folder, so two inputs never overwrite each other.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from parsl.data_provider.files import File
from parsl_staging.errors import ChecksumMismatch, StagingError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Bytes per read/write of the streaming transfers: large enough for full speed, small
#: enough to keep memory flat whatever the file size.
CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class Retry:
    """How transient failures are retried.

    ``attempts`` is the total number of tries (1 = no retry). The n-th retry waits a random
    time between 0 and ``min(max_delay, initial_delay * 2**(n-1))`` seconds (exponential
    backoff with full jitter, so many tasks failing together do not retry together).
    """

    attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or isinstance(self.attempts, bool) or \
                self.attempts < 1:
            raise ValueError(f"Retry: attempts must be an int >= 1, got {self.attempts!r}")
        for name in ("initial_delay", "max_delay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Retry: {name} must be a number >= 0 seconds, "
                                 f"got {value!r}")

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (retry_number - 1))
        return random.uniform(0, ceiling)


#: The default of every provider's ``retry``: 4 tries, waits of up to 0.5, 1, 2 s.
DEFAULT_RETRY = Retry()


def check_retry(retry: Any, owner: str) -> Retry:
    if not isinstance(retry, Retry):
        raise TypeError(f"{owner}: retry must be a parsl_staging.Retry, got {retry!r} "
                        f"({type(retry).__name__})")
    return retry


def check_timeout(timeout: Any, owner: str) -> float:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError(f"{owner}: timeout must be a number of seconds > 0, "
                         f"got {timeout!r}")
    return float(timeout)


def with_retries(operation: Callable[[], T], retry: Retry,
                 is_transient: Callable[[BaseException], bool], url: str,
                 task_id: Optional[int] = None) -> T:
    """Run ``operation``, retrying it while it fails transiently and tries remain."""
    attempt = 1
    while True:
        try:
            return operation()
        except Exception as e:
            if attempt >= retry.attempts or not is_transient(e):
                raise
            pause = retry.delay(attempt)
            logger.warning("task %s: transfer of %s failed transiently (%s: %s); retry %d "
                           "of %d in %.2f s", task_id, redact(url), type(e).__name__, e,
                           attempt, retry.attempts - 1, pause, extra={"task_id": task_id})
            time.sleep(pause)
            attempt += 1


def redact(url: str) -> str:
    """``url`` without a password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class _Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...


class Sink:
    """The open temporary file a download writes to; counts bytes and computes the digest
    of the expected checksum's algorithm on the way."""

    def __init__(self, handle: _Writer, checksum: Optional[str]) -> None:
        self.handle = handle
        self.bytes = 0
        self._expected = checksum
        self._digest = hashlib.new(checksum.split(":", 1)[0]) if checksum else None

    def write(self, data: bytes) -> int:
        self.handle.write(data)
        if self._digest is not None:
            self._digest.update(data)
        self.bytes += len(data)
        return len(data)

    def verify(self, url: str) -> None:
        if self._digest is None or self._expected is None:
            return
        algorithm, expected = self._expected.split(":", 1)
        actual = self._digest.hexdigest()
        if actual != expected:
            raise ChecksumMismatch(redact(url), f"{algorithm} checksum is {actual}, "
                                   f"expected {expected}")


@contextlib.contextmanager
def atomic_download(path: str, url: str, checksum: Optional[str]) -> Iterator[Sink]:
    """A :class:`Sink` on a temporary file that becomes ``path`` only if the block
    completes and the checksum matches; otherwise the temporary file is removed."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part",
                                     dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            sink = Sink(handle, checksum)
            yield sink
        sink.verify(url)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def verify_file(path: str, url: str, checksum: Optional[str]) -> None:
    """Check the digest of a file written by another program (rsync, Globus)."""
    if not checksum:
        return
    with open(path, "rb") as handle:
        sink = Sink(_NullWriter(), checksum)
        while True:
            block = handle.read(CHUNK_SIZE)
            if not block:
                break
            sink.write(block)
    sink.verify(url)


class _NullWriter:
    def write(self, data: bytes) -> int:
        return len(data)


def log_transfer(direction: str, url: str, path: str, nbytes: int, seconds: float,
                 task_id: Optional[int]) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        rate = nbytes / seconds / 1e6 if seconds > 0 else float("inf")
        logger.debug("task %s: staged %s %s %s %s: %d bytes in %.3f s (%.1f MB/s)",
                     task_id, direction, redact(url), "to" if direction == "in" else "from",
                     path, nbytes, seconds, rate, extra={"task_id": task_id})


# ---------------------------------------------------------------- local paths

_claims: Dict[str, str] = {}
_claims_lock = threading.Lock()


def local_path_for(working_dir: Optional[str], file: File) -> str:
    """Where ``file`` is put on the execution side: ``<working_dir>/<filename>`` as in
    Parsl (relative to the worker's directory when there is no working_dir), or
    ``<working_dir>/<url digest>/<filename>`` when another URL already uses that path."""
    base = os.path.join(working_dir, file.filename) if working_dir else file.filename
    with _claims_lock:
        owner = _claims.setdefault(base, file.url)
    if owner == file.url:
        return base
    digest = hashlib.sha256(file.url.encode()).hexdigest()[:16]
    folder = os.path.join(working_dir, digest) if working_dir else digest
    return os.path.join(folder, file.filename)


def executor_working_dir(dm: Any, executor: str) -> Optional[str]:
    return getattr(dm.dfk.executors[executor], "working_dir", None)


def staging_error(url: str, error: BaseException, direction: str = "in") -> StagingError:
    """``error`` as a StagingError naming ``url`` (kept as is if it already is one)."""
    if isinstance(error, StagingError):
        return error
    return StagingError(redact(url), f"{type(error).__name__}: {error}", direction)
