"""Length-prefixed messages over OS pipes between a manager and its workers.

A pipe pair per worker costs one system call per message on each side, against several
thread hand-offs per message for a ZeroMQ socket, and it needs no listening endpoint: a
worker's pipes are its only channel, so nothing else on the node can talk to it. EOF on a
pipe also tells either side that the other process is gone.

Message: ``<I length>`` then ``length`` bytes of body.
"""
from __future__ import annotations

import os
import struct
from typing import BinaryIO, List, Optional

_HEADER = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
MAX_MESSAGE = 2**32 - 1


def frame(*parts: bytes) -> List[bytes]:
    """The pieces to write for one message made of ``parts`` concatenated."""
    length = sum(len(p) for p in parts)
    if length > MAX_MESSAGE:
        raise ValueError(f"message of {length} bytes is larger than {MAX_MESSAGE}")
    return [_HEADER.pack(length), *parts]


def read_message(stream: BinaryIO) -> Optional[bytes]:
    """Read one message from a buffered stream; None on EOF (the writer is gone)."""
    header = stream.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        return None
    (length,) = _HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return body


def write_all(fd: int, parts: List[bytes]) -> None:
    """Blocking write of every part (used by workers, whose manager always reads)."""
    written = os.writev(fd, parts)
    if written == sum(len(p) for p in parts):
        return
    for part in parts:
        if written >= len(part):
            written -= len(part)
            continue
        view = memoryview(part)[written:]
        written = 0
        while view:
            view = view[os.write(fd, view):]


#: Scratch buffer every reader reads into. ``os.read(fd, 1 MB)`` would allocate (mmap) and
#: free (munmap, a TLB shootdown in a threaded process) a megabyte for each small result;
#: readers share this one because the manager reads its pipes from one thread.
_SCRATCH = bytearray(1 << 20)
_SCRATCH_VIEW = memoryview(_SCRATCH)


class MessageReader:
    """Incrementally parse messages from a non-blocking pipe (manager side).

    Not thread-safe: all readers share one scratch buffer.
    """

    __slots__ = ("buf", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def read(self) -> tuple[List[bytes], bool]:
        """Read what is available; return ``(complete messages, eof)``."""
        eof = False
        while True:
            try:
                n = os.readv(self.fd, (_SCRATCH,))
            except BlockingIOError:
                break
            if not n:
                eof = True
                break
            self.buf += _SCRATCH_VIEW[:n]
            if n < len(_SCRATCH):
                break
        messages: List[bytes] = []
        buf = self.buf
        pos = 0
        while len(buf) - pos >= HEADER_SIZE:
            (length,) = _HEADER.unpack_from(buf, pos)
            end = pos + HEADER_SIZE + length
            if end > len(buf):
                break
            messages.append(bytes(buf[pos + HEADER_SIZE:end]))
            pos = end
        if pos:
            del buf[:pos]
        return messages, eof


class MessageWriter:
    """Non-blocking writer that keeps what the pipe cannot take yet (manager side)."""

    __slots__ = ("fd", "pending")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending: List[memoryview] = []

    def write(self, parts: List[bytes]) -> bool:
        """Queue ``parts`` and write as much as possible; True when all was written."""
        if self.pending:
            self.pending.extend(memoryview(p) for p in parts)
            return self.flush()
        try:
            n = os.writev(self.fd, parts)
        except BlockingIOError:
            n = 0
        total = sum(len(p) for p in parts)
        if n == total:
            return True
        for p in parts:
            if n >= len(p):
                n -= len(p)
                continue
            self.pending.append(memoryview(p)[n:])
            n = 0
        return False

    def flush(self) -> bool:
        """Write pending bytes; True when nothing is left. Raises OSError if the reader died."""
        while self.pending:
            view = self.pending[0]
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                return False
            if n == len(view):
                self.pending.pop(0)
            else:
                self.pending[0] = view[n:]
                return False
        return True
