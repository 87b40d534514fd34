"""The on-disk checkpoint format: an append-only log of framed, checksummed records.

A checkpoint directory (``runinfo/NNN/checkpoint/``) holds one file, ``tasks.ckpt``::

    file    := MAGIC record*
    MAGIC   := b"PARSLCK1"                    (8 bytes; the 1 is the format version)
    record  := length:u32le crc32:u32le payload[length]
    payload := codec:u8 keylen:u16le key[keylen] body
    codec   := b"s" (parsl.serialize) | b"p" (pickle) | b"d" (dill)

``key`` is the memo hash of a task (ASCII), ``body`` its result serialized with ``codec``;
``crc32`` is :func:`zlib.crc32` of ``payload``. Records are only ever appended, copied
into a shared memory map of the file, so a killed process never leaves a record in a
user-space buffer. A file whose writer was killed ends in zero bytes (space reserved for
records, cut off at a clean close), which the reader treats as the end of the records. A
power loss or a kill in the middle of a copy can leave the last record torn: the reader
stops at the first record whose frame does not fit in the file or whose checksum does
not match, warns once for that file and keeps every record before it.
See ``docs/checkpointing.md`` for the full description.
"""
from __future__ import annotations

import logging
import mmap
import os
import pickle
import struct
import threading
import warnings
import zlib
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from parsl.dataflow.errors import BadCheckpoint

logger = logging.getLogger(__name__)

MAGIC = b"PARSLCK1"
FILE_NAME = "tasks.ckpt"
_FRAME = struct.Struct("<II")
_KEYLEN = struct.Struct("<H")
_MAX_RECORD = 1 << 31


class TornCheckpointWarning(UserWarning):
    """A checkpoint file ends in (or contains) a record that was not completely written.

    The records before it were loaded; the damaged record and anything after it were not.
    """


def _serializers() -> List[Tuple[bytes, Callable[[Any], bytes]]]:
    """Codecs to try in order: parsl.serialize when the package provides it, then pickle,
    then dill (which handles lambdas, closures and interactively defined classes)."""
    codecs: List[Tuple[bytes, Callable[[Any], bytes]]] = []
    try:
        from parsl.serialize import serialize as parsl_serialize
    except ImportError:
        pass
    else:
        codecs.append((b"s", parsl_serialize))
    codecs.append((b"p", lambda obj: pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)))

    def dill_dumps(obj: Any) -> bytes:
        import dill

        return bytes(dill.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    codecs.append((b"d", dill_dumps))
    return codecs


def _deserialize(codec: bytes, body: bytes) -> Any:
    if codec == b"p":
        return pickle.loads(body)
    if codec == b"d":
        import dill

        return dill.loads(body)
    if codec == b"s":
        from parsl.serialize import deserialize

        return deserialize(body)
    raise ValueError(f"unknown codec {codec!r}")


class RecordEncoder:
    """Turns (memo key, result) pairs into framed records, picking the first codec that works."""

    def __init__(self) -> None:
        self._codecs = _serializers()

    def encode(self, key: str, result: Any) -> bytes:
        """The framed record for ``key``; raises the last codec's error if none can
        serialize ``result``."""
        key_bytes = key.encode("ascii")
        error: Optional[BaseException] = None
        for codec, dumps in self._codecs:
            try:
                body = dumps(result)
            except Exception as e:
                error = e
                continue
            payload = b"".join((codec, _KEYLEN.pack(len(key_bytes)), key_bytes, body))
            return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        assert error is not None
        raise error


def checkpoint_file_in(path: str) -> str:
    """The checkpoint file for ``path``, which names a checkpoint directory or the file."""
    return os.path.join(path, FILE_NAME) if os.path.isdir(path) else path


class CheckpointWriter:
    """Appends records to ``<directory>/tasks.ckpt`` through a shared memory map.

    Appending copies the record into a ``MAP_SHARED`` mapping of the file: the bytes are
    in the kernel's page cache as soon as the copy ends, so they survive the process being
    killed (SIGKILL included) without a system call per record, which matters when every
    completed task appends one. :meth:`sync` makes them survive an operating system
    crash too. The file grows in chunks; the unused, zero-filled tail is cut off by
    :meth:`close`, and a reader treats a zero frame as the end of the records, so a killed
    run's file still reads cleanly.

    :meth:`append` is safe to call from many threads without a lock: ``mmap.write`` copies
    and advances the position in one call that holds the GIL, so concurrent records never
    interleave. Only growing the map takes a lock. (A Python lock on every append made
    completing threads convoy behind each other, costing more than the copy itself.)
    """

    _MIN_GROWTH = 1 << 20

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, FILE_NAME)
        self._fd: Optional[int] = None
        self._map: Optional[mmap.mmap] = None
        self._grow_lock = threading.Lock()

    def _open_map(self, needed: int) -> mmap.mmap:
        """Create the file if needed and map it with room for ``needed`` more bytes."""
        os.makedirs(self.directory, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        end = os.fstat(fd).st_size
        if end == 0:
            _write_all(fd, MAGIC)
            os.fsync(fd)
            _fsync_directory(self.directory)
            end = len(MAGIC)
        os.ftruncate(fd, end + max(needed, self._MIN_GROWTH))
        mapped = mmap.mmap(fd, end + max(needed, self._MIN_GROWTH))
        mapped.seek(end)
        self._fd = fd
        return mapped

    def _append_slow(self, data: bytes) -> None:
        with self._grow_lock:
            mapped = self._map
            if mapped is None:
                mapped = self._open_map(len(data))
                self._map = mapped
            try:
                mapped.write(data)
                return
            except ValueError:
                pass
            size = len(mapped)
            # resize() remaps in place and keeps the position, so a thread that already
            # holds this map object can never write over the space being added.
            mapped.resize(max(mapped.tell() + len(data), 2 * size, size + self._MIN_GROWTH))
            mapped.write(data)

    def append(self, records: Iterable[bytes], sync: bool = True) -> None:
        """Append already framed records; with ``sync``, flush them to stable storage
        before returning."""
        data = b"".join(records)
        if data:
            mapped = self._map
            if mapped is None:
                self._append_slow(data)
            else:
                try:
                    mapped.write(data)
                except ValueError:
                    self._append_slow(data)
        elif self._map is None:
            self._append_slow(b"")
        if sync:
            self.sync()

    @property
    def size(self) -> int:
        """Bytes of header and records written so far."""
        mapped = self._map
        return mapped.tell() if mapped is not None else 0

    def sync(self) -> None:
        """Flush everything appended so far to stable storage.

        ``fsync`` on the descriptor rather than ``mmap.flush``: on Linux it writes back
        the mapping's dirty pages too (they are the file's page cache), and unlike
        ``flush`` it releases the GIL, so other threads keep completing tasks meanwhile.
        """
        fd = self._fd
        if fd is not None:
            os.fsync(fd)

    def close(self) -> None:
        """Flush, cut the file to its records and close it. Not to be called while
        another thread appends."""
        with self._grow_lock:
            mapped, fd = self._map, self._fd
            if mapped is None or fd is None:
                return
            end = mapped.tell()
            self._map = None
            self._fd = None
            mapped.close()
            os.ftruncate(fd, end)
            os.fsync(fd)
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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


def iter_records(path: str) -> Iterator[Tuple[str, Any]]:
    """Yield (memo key, result) for every intact record of the checkpoint file ``path``.

    A torn or corrupt record ends the file: it is reported once with a
    :class:`TornCheckpointWarning` (and in the log) naming the file, the offset and how
    many bytes were ignored. A record whose body cannot be deserialized (its class no
    longer importable, say) is skipped with a warning; the rest still load.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise BadCheckpoint(f"checkpoint file {path} does not exist") from None
    except OSError as e:
        raise BadCheckpoint(f"cannot read checkpoint file {path}: {e}") from e
    if len(data) < len(MAGIC):
        if MAGIC.startswith(data):
            if data:
                _warn_torn(path, 0, len(data), "the file header is incomplete")
            return
        raise BadCheckpoint(f"{path} is not a parsl checkpoint file (bad header)")
    if not data.startswith(MAGIC):
        raise BadCheckpoint(f"{path} is not a parsl checkpoint file (bad header "
                            f"{data[:len(MAGIC)]!r}, expected {MAGIC!r})")
    offset = len(MAGIC)
    end = len(data)
    while offset < end:
        reason = None
        if end - offset < _FRAME.size:
            reason = "the last record's header is incomplete"
        else:
            length, crc = _FRAME.unpack_from(data, offset)
            start = offset + _FRAME.size
            if length == 0:
                if data.count(0, offset) == end - offset:
                    return
                reason = "a record has length 0"
            elif length > end - start:
                reason = f"a record claims {length} bytes but only {end - start} remain"
            else:
                payload = data[start:start + length]
                if zlib.crc32(payload) != crc:
                    reason = "a record's checksum does not match its contents"
        if reason is not None:
            _warn_torn(path, offset, end - offset, reason)
            return
        offset = start + length
        item = _decode_payload(path, start, payload)
        if item is not None:
            yield item


def _decode_payload(path: str, offset: int, payload: bytes) -> Optional[Tuple[str, Any]]:
    codec = payload[:1]
    try:
        (key_length,) = _KEYLEN.unpack_from(payload, 1)
        key_end = 1 + _KEYLEN.size + key_length
        key = payload[1 + _KEYLEN.size:key_end].decode("ascii")
        return key, _deserialize(codec, payload[key_end:])
    except Exception as e:
        message = (f"checkpoint {path}: skipping the record at byte {offset}, whose result "
                   f"cannot be deserialized: {type(e).__name__}: {e}")
        logger.warning("%s", message)
        warnings.warn(message, stacklevel=3)
        return None


def _warn_torn(path: str, offset: int, ignored: int, reason: str) -> None:
    message = (f"checkpoint {path} is torn at byte {offset}: {reason}; ignoring the last "
               f"{ignored} bytes (a run was probably killed while writing). Every record "
               "before that point was loaded.")
    logger.warning("%s", message)
    warnings.warn(message, TornCheckpointWarning, stacklevel=4)


def load_checkpoints(paths: Iterable[str]) -> Dict[str, Any]:
    """The memo table stored in the checkpoint directories (or files) ``paths``.

    Later paths and later records win for the same key. A directory that exists but holds
    no checkpoint file (a run killed before its first write) counts as empty; a path that
    does not exist at all raises :class:`BadCheckpoint`, since it is almost always a typo.
    """
    table: Dict[str, Any] = {}
    for given in paths:
        path = os.fspath(given)
        if not os.path.exists(path):
            raise BadCheckpoint(f"checkpoint {path} does not exist; pass directories from "
                                "parsl.utils.get_all_checkpoints() or get_last_checkpoint()")
        file_path = checkpoint_file_in(path)
        if os.path.basename(file_path) == "tasks.pkl":
            continue  # written by real Parsl: see parsl.dataflow.parsl_checkpoints
        if not os.path.exists(file_path):
            logger.info("checkpoint directory %s holds no %s; nothing to load", path,
                        FILE_NAME)
            continue
        before = len(table)
        count = 0
        for key, value in iter_records(file_path):
            table[key] = value
            count += 1
        logger.info("Loaded %d checkpointed results (%d new) from %s", count,
                    len(table) - before, file_path)
    return table
