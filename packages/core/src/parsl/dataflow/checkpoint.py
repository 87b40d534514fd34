"""The on-disk checkpoint: Parsl's format, ``runinfo/NNN/checkpoint/tasks.pkl``.

The file is what Parsl writes: pickled dicts appended one after another, one per task::

    {"hash": memo_key, "exception": None, "result": value, "key": "rebuild-1"}

so Parsl's tools and tests (which ``pickle.load`` records until ``EOFError``) read it,
and a checkpoint Parsl wrote loads here. The extra ``"key"`` field says the hash is this
project's memo key; records without it are Parsl's, whose keys the memoizer matches with
:func:`parsl.dataflow.parsl_checkpoints.parsl_memo_keys`. A result that pickle cannot
serialize (a lambda, a closure) is written with dill; reading it then needs dill.

Crash safety: each record is appended with one ``write(2)`` on a descriptor opened with
``O_APPEND``, so once :meth:`CheckpointWriter.append` returns the record is in the
operating system's page cache and survives the process being killed (SIGKILL included);
:meth:`CheckpointWriter.sync` makes it survive an operating system crash too. Appends
from many threads never interleave (``O_APPEND`` writes of a regular file are atomic
with respect to each other). A run killed in the middle of a write, or a power loss, can
leave the last record torn: the reader stops at the first record that does not unpickle,
warns once for that file and keeps every record before it.
See ``docs/checkpointing.md``.
"""
from __future__ import annotations

import io
import logging
import os
import pickle
import threading
import warnings
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple

from parsl.dataflow.errors import BadCheckpoint

logger = logging.getLogger(__name__)

FILE_NAME = "tasks.pkl"
#: Marks records whose ``hash`` is this project's memo key (not Parsl's).
KEY_SCHEME = "rebuild-1"


class TornCheckpointWarning(UserWarning):
    """A checkpoint file ends in (or contains) a record that was not completely written.

    The records before it were loaded; the damaged record and anything after it were not.
    """


class RecordEncoder:
    """Turns (memo key, result) pairs into pickled records, with dill when pickle fails."""

    def encode(self, key: str, result: Any) -> bytes:
        """The record for ``key``; raises dill's error if neither can serialize ``result``."""
        record = {"hash": key, "exception": None, "result": result, "key": KEY_SCHEME}
        try:
            return pickle.dumps(record, protocol=4)
        except Exception:
            import dill

            return bytes(dill.dumps(record, protocol=4))


def checkpoint_file_in(path: str) -> str:
    """The checkpoint file for ``path``, which names a checkpoint directory or the file."""
    return os.path.join(path, FILE_NAME) if os.path.isdir(path) else path


class CheckpointWriter:
    """Appends records to ``<directory>/tasks.pkl``, one ``write(2)`` per call.

    Safe to call from many threads without a lock: the descriptor is opened with
    ``O_APPEND`` and each call writes its records in one system call.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, FILE_NAME)
        self._fd: Optional[int] = None
        self._open_lock = threading.Lock()

    def _open(self) -> int:
        with self._open_lock:
            fd = self._fd
            if fd is None:
                os.makedirs(self.directory, exist_ok=True)
                created = not os.path.exists(self.path)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                if created:
                    _fsync_directory(self.directory)
                self._fd = fd
            return fd

    def append(self, records: Iterable[bytes], sync: bool = True) -> None:
        """Append already encoded records; with ``sync``, flush them to stable storage
        before returning. An empty list only creates the file."""
        data = b"".join(records)
        fd = self._fd if self._fd is not None else self._open()
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if sync:
            self.sync()

    @property
    def size(self) -> int:
        """Bytes written to the file so far."""
        fd = self._fd
        return os.fstat(fd).st_size if fd is not None else 0

    def sync(self) -> None:
        """Flush everything appended so far to stable storage."""
        fd = self._fd
        if fd is not None:
            os.fsync(fd)

    def close(self) -> None:
        """Flush and close the file. Not to be called while another thread appends."""
        with self._open_lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.fsync(fd)
            os.close(fd)


def _fsync_directory(directory: str) -> None:
    """Make a newly created file's directory entry durable (POSIX needs the parent fsynced)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError as e:
        logger.debug("cannot open %s to fsync it: %s", directory, e)
        return
    try:
        os.fsync(dir_fd)
    except OSError as e:
        logger.debug("cannot fsync directory %s: %s", directory, e)
    finally:
        os.close(dir_fd)


def iter_checkpoint(path: str) -> Iterator[Tuple[str, Any, bool]]:
    """Yield (key, result, is_ours) for every intact success record of ``path``.

    ``is_ours`` tells this project's memo keys from Parsl's. A torn or damaged record ends
    the file: it is reported once with a :class:`TornCheckpointWarning` (and in the log)
    naming the file, the offset and how many bytes were ignored. Zero bytes at the end
    (space a file system left after a crash) end the file cleanly.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise BadCheckpoint(f"checkpoint file {path} does not exist") from None
    except OSError as e:
        raise BadCheckpoint(f"cannot read checkpoint file {path}: {e}") from e
    if data and data[:1] != b"\x80" and data.count(0) != len(data):
        raise BadCheckpoint(f"{path} is not a parsl checkpoint file (it does not start "
                            f"with a pickle; first bytes {data[:8]!r})")
    stream = io.BytesIO(data)
    end = len(data)
    while True:
        offset = stream.tell()
        if offset >= end or data.count(0, offset) == end - offset:
            return
        try:
            record = pickle.load(stream)
        except Exception as e:
            _warn_torn(path, offset, end - offset, f"{type(e).__name__}: {e}")
            return
        if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
            _warn_torn(path, offset, end - offset, "a record is not a checkpoint entry")
            return
        if record.get("exception") is None:
            yield record["hash"], record.get("result"), record.get("key") == KEY_SCHEME


def iter_records(path: str) -> Iterator[Tuple[str, Any]]:
    """Yield (memo key, result) for every intact record of the checkpoint file ``path``."""
    for key, value, _ in iter_checkpoint(path):
        yield key, value


def _warn_torn(path: str, offset: int, ignored: int, reason: str) -> None:
    message = (f"checkpoint {path} is torn at byte {offset}: {reason}; ignoring the last "
               f"{ignored} bytes (a run was probably killed while writing). Every record "
               "before that point was loaded.")
    logger.warning("%s", message)
    warnings.warn(message, TornCheckpointWarning, stacklevel=4)


def load_checkpoint_tables(paths: Iterable[str]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The memo tables stored in the checkpoint directories (or files) ``paths``: results
    under this project's keys, and results under Parsl's keys (checkpoints Parsl wrote).

    Later paths and later records win for the same key. A directory that exists but holds
    no checkpoint file (a run killed before its first write) counts as empty; a path that
    does not exist at all raises :class:`BadCheckpoint`, since it is almost always a typo.
    """
    ours: Dict[str, Any] = {}
    parsls: Dict[str, Any] = {}
    for given in paths:
        path = os.fspath(given)
        if not os.path.exists(path):
            raise BadCheckpoint(f"checkpoint {path} does not exist; pass directories from "
                                "parsl.utils.get_all_checkpoints() or get_last_checkpoint()")
        file_path = checkpoint_file_in(path)
        if not os.path.exists(file_path):
            logger.info("checkpoint directory %s holds no %s; nothing to load", path,
                        FILE_NAME)
            continue
        count = parsl_count = 0
        for key, value, is_ours in iter_checkpoint(file_path):
            if is_ours:
                ours[key] = value
                count += 1
            else:
                parsls[key] = value
                parsl_count += 1
        logger.info("Loaded %d checkpointed results from %s%s", count + parsl_count, file_path,
                    f" ({parsl_count} written by Parsl)" if parsl_count else "")
    return ours, parsls


def load_checkpoints(paths: Iterable[str]) -> Dict[str, Any]:
    """This project's memo table stored in the checkpoint ``paths`` (see
    :func:`load_checkpoint_tables`)."""
    return load_checkpoint_tables(paths)[0]
