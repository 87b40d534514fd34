"""The per-node download cache of the HTTP and FTP providers (on by default).

A URL staged in by several tasks on one worker node is downloaded once: the first task
fetches it into a cache folder on the node, later tasks get a hard link to that *entry*
(a copy when the cache is on another file system than the task's folder). Correctness
comes before saving a transfer, so an entry is only reused when it is known to be current:

- *Revalidated:* the response's validators (HTTP ETag and Last-Modified; FTP MDTM and
  SIZE) are stored next to the entry in a small JSON *sidecar*. A later use asks the
  server whether the content changed (a conditional GET; for FTP, MDTM and SIZE again);
  only "not modified" reuses the entry. A server that sends no validators cannot be
  asked, so its URLs are downloaded again every time.
- *Checksummed:* a File with a ``checksum`` that the entry's content matches is reused
  without any request.
- *Untouched:* tasks get hard links, so a task that modifies its input in place modifies
  the entry. The sidecar records the entry's size and mtime (the mtime is set one second
  back after each download, so no later write can leave it unchanged); an entry whose
  size or mtime differ is discarded and downloaded again.
- *Atomic:* a new body replaces the entry by rename, so tasks holding links to the old
  version keep their data; sidecars are written by rename too.
- *Concurrent-safe:* each entry has its own lock file (``flock``, released by the
  kernel when its holder dies), so concurrent tasks on a node make exactly one full
  download and the others revalidate or reuse.

The cache folder is computed on the worker: ``$TMPDIR/parsl-staging-cache-<uid>`` by
default (:data:`NODE_CACHE`), created with mode 0700; a folder owned by another user is
refused with :class:`parsl_staging.errors.CacheFolderError`. Entries are never evicted:
the folder lives as long as the node's temporary files do.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterator, Optional, Union

from parsl_staging.errors import CacheFolderError, StagingError
from parsl_staging.transfer import CHUNK_SIZE, redact

logger = logging.getLogger(__name__)


class NodeCacheDefault:
    """The type of :data:`NODE_CACHE`, the default ``cache_dir`` of the providers: "the
    default folder of each worker node", resolved on the worker, not where the
    configuration is written. A singleton that pickles by name."""

    _instance: Optional[NodeCacheDefault] = None

    def __new__(cls) -> NodeCacheDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "parsl_staging.NODE_CACHE"

    def __reduce__(self) -> str:
        return "NODE_CACHE"


#: ``cache_dir=NODE_CACHE`` (the default): ``$TMPDIR/parsl-staging-cache-<uid>`` on each
#: worker node.
NODE_CACHE = NodeCacheDefault()

#: What a provider's ``cache_dir`` may be: NODE_CACHE, a folder, or None (no cache).
CacheSetting = Union[NodeCacheDefault, str, None]


def check_cache_dir(cache_dir: Any, owner: str) -> CacheSetting:
    """A provider's ``cache_dir`` argument as a CacheSetting (paths as str)."""
    if cache_dir is None or isinstance(cache_dir, NodeCacheDefault):
        return cache_dir
    path = os.fspath(cache_dir) if isinstance(cache_dir, (str, os.PathLike)) else None
    if isinstance(path, str) and path:
        return path
    raise TypeError(f"{owner}: cache_dir must be a folder path, parsl_staging.NODE_CACHE "
                    f"(the default: a folder per node) or None (no cache), got "
                    f"{cache_dir!r}")


def default_folder() -> str:
    """The default cache folder of this node and user."""
    return os.path.join(tempfile.gettempdir(), f"parsl-staging-cache-{os.getuid()}")


def cache_folder(setting: CacheSetting, url: str) -> Optional[str]:
    """The checked cache folder for ``setting`` on this node (None: no cache).

    The folder is created with mode 0700 and must belong to this process's user: the
    cache's content becomes task inputs, so a folder someone else controls is refused.
    The default folder, which lives in a shared temporary folder, must moreover be a real
    folder (not a symbolic link) and is made private if its mode is looser.
    """
    if setting is None:
        return None
    is_default = isinstance(setting, NodeCacheDefault)
    folder = default_folder() if isinstance(setting, NodeCacheDefault) else setting
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder) if is_default else os.stat(folder)
    except OSError as e:
        raise CacheFolderError(redact(url), f"cannot use the node cache folder {folder!r}: "
                               f"{e}; set cache_dir= to another folder, or None to turn "
                               "the cache off") from e
    if not stat.S_ISDIR(info.st_mode):
        raise CacheFolderError(redact(url), f"the node cache folder {folder!r} is not a "
                               "folder (a symbolic link or a file); remove it, or set "
                               "cache_dir= to another folder or None")
    uid = os.getuid()
    if info.st_uid != uid:
        raise CacheFolderError(redact(url), f"the node cache folder {folder!r} belongs to "
                               f"uid {info.st_uid}, not to this user (uid {uid}); its "
                               "files would become task inputs, so it is not used: remove "
                               "it, or set cache_dir= to a folder of yours, or None")
    if is_default and info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


@dataclass(frozen=True)
class Fetched:
    """A full body written by a fetch: its size and the validators that came with it
    (empty: the server sent none, so the entry cannot be revalidated)."""

    nbytes: int
    validators: Dict[str, str]


#: ``fetch(path, known)`` downloads into ``path`` (atomically) and returns Fetched, or,
#: when ``known`` validators are given and the server says the content behind them is
#: unchanged, writes nothing and returns None.
Fetch = Callable[[str, Optional[Dict[str, str]]], Optional[Fetched]]


@dataclass
class _Record:
    """The sidecar of an entry."""

    url: str
    size: int
    mtime_ns: int
    validators: Dict[str, str] = field(default_factory=dict)
    digests: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> Optional[_Record]:
        """The record at ``path``; None if missing or not a record (a crash mid-write,
        another version's format), which the caller treats as no entry."""
        try:
            with open(path, encoding="utf-8") as handle:
                data: Any = json.load(handle)
            record = cls(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as e:
            logger.debug("node cache: unreadable sidecar %s (%s), discarded", path, e)
            return None
        if not isinstance(record.validators, dict) or not isinstance(record.digests, dict):
            return None
        texts = (record.url, *record.validators.values(), *record.digests.values())
        numbers = (record.size, record.mtime_ns)
        if not all(isinstance(t, str) for t in texts) or \
                not all(isinstance(n, int) for n in numbers):
            return None
        return record

    def save(self, path: str) -> None:
        temporary = path + ".part"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)
        os.replace(temporary, path)


def stage_through_cache(folder: str, url: str, checksum: Optional[str], destination: str,
                        fetch: Fetch, task_id: Optional[int]) -> int:
    """Put the current content of ``url`` at ``destination`` through the cache in
    ``folder``; returns the bytes downloaded (0 when the entry was reused).

    Errors of the fetch are raised as they are; any other (a full disk, an unusable
    checksum algorithm) as a StagingError naming the URL and the cache folder.
    """
    try:
        return _stage_through_cache(folder, url, checksum, destination, fetch, task_id)
    except StagingError:
        raise
    except Exception as e:
        raise StagingError(redact(url), f"node cache {folder!r}: {type(e).__name__}: "
                           f"{e}") from e


def _stage_through_cache(folder: str, url: str, checksum: Optional[str],
                         destination: str, fetch: Fetch, task_id: Optional[int]) -> int:
    entry = os.path.join(folder, hashlib.sha256(url.encode()).hexdigest())
    sidecar = entry + ".json"
    with _locked(entry + ".lock"):
        record = _current_record(entry, sidecar, url)
        nbytes = 0
        if record is not None and checksum and _has_checksum(entry, sidecar, record,
                                                             checksum):
            outcome = "reused (checksum matches)"
        else:
            known = record.validators if record and record.validators and not checksum \
                else None
            fetched = fetch(entry, known)
            if fetched is None:
                outcome = "reused (not modified)"
            else:
                nbytes = fetched.nbytes
                outcome = "downloaded"
                _save_new_entry(entry, sidecar, url, fetched, checksum)
        _link(entry, destination)
    logger.debug("task %s: %s %s via the node cache %s", task_id, redact(url), outcome,
                 folder, extra={"task_id": task_id})
    return nbytes


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if needed) for the block.

    Plain flock rather than the filelock package, which costs milliseconds more per new
    lock file, a cost every task staging a URL new to the node pays. No timeout: the
    holder is bounded by its transfer's own timeouts and retries, and the kernel releases
    the lock of a holder that dies.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _current_record(entry: str, sidecar: str, url: str) -> Optional[_Record]:
    """The entry's record if the entry exists as it was downloaded; otherwise discards
    whatever is there and returns None."""
    record = _Record.load(sidecar)
    if record is not None and record.url == url:
        try:
            info = os.stat(entry)
        except FileNotFoundError:
            info = None
        if info is not None and (info.st_size, info.st_mtime_ns) == (record.size,
                                                                      record.mtime_ns):
            return record
        if info is not None:
            logger.info("node cache: %s was modified after its download (a task changed "
                        "its input in place?); downloading it again", redact(url))
    for path in (entry, sidecar):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return None


def _has_checksum(entry: str, sidecar: str, record: _Record, checksum: str) -> bool:
    """Whether the entry's content has ``checksum`` (``algorithm:hex``); a digest not yet
    known is computed once and kept in the sidecar."""
    algorithm, expected = checksum.split(":", 1)
    digest = record.digests.get(algorithm)
    if digest is None:
        hasher = hashlib.new(algorithm)
        with open(entry, "rb") as handle:
            while block := handle.read(CHUNK_SIZE):
                hasher.update(block)
        digest = record.digests[algorithm] = hasher.hexdigest()
        record.save(sidecar)
    return digest == expected


def _save_new_entry(entry: str, sidecar: str, url: str, fetched: Fetched,
                    checksum: Optional[str]) -> None:
    # One second back: any later write to the entry sets its mtime to "now", which then
    # differs from the recorded one even on file systems with coarse timestamps.
    stamp = time.time_ns() - 1_000_000_000
    os.utime(entry, ns=(stamp, stamp))
    info = os.stat(entry)
    digests: Dict[str, str] = {}
    if checksum:  # the fetch verified it
        algorithm, digest = checksum.split(":", 1)
        digests[algorithm] = digest
    _Record(url, info.st_size, info.st_mtime_ns, fetched.validators, digests).save(sidecar)


def _link(entry: str, destination: str) -> None:
    """``destination`` becomes a hard link to ``entry`` (a copy across file systems),
    replacing whatever was there in one rename."""
    folder = os.path.dirname(os.path.abspath(destination))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(destination)}."
                                     f"{uuid.uuid4().hex[:16]}.part")
    try:
        os.link(entry, temporary)
    except OSError:
        shutil.copyfile(entry, temporary)
    try:
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
