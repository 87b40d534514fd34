"""Records over OS pipes between a manager and its workers.

A pipe pair per worker costs one system call per message on each side, against several
thread hand-offs per message for a ZeroMQ socket, and it needs no listening endpoint: a
worker's pipes are its only channel, so nothing else on the node can talk to it. EOF on a
pipe also tells either side that the other process is gone.

What travels are the records of :mod:`parsl_htex._protocol`: a fixed-size header whose
last field is the payload length (``<I``), then the payload. Task records go to the
worker, result records come back, both byte for byte as they travel between the manager
and the interchange.
"""
from __future__ import annotations

import os
import struct
from typing import BinaryIO, List, Optional, Sequence, Tuple, Union

Buffer = Union[bytes, bytearray, memoryview]


def read_record(stream: BinaryIO, header: struct.Struct) -> Optional[Tuple[bytes, bytes]]:
    """Read one record from a buffered stream as ``(header bytes, payload)``; None on EOF
    (the writer is gone)."""
    head = stream.read(header.size)
    if len(head) < header.size:
        return None
    length = header.unpack(head)[-1]
    body = stream.read(length)
    if len(body) < length:
        return None
    return head, body


def write_all(fd: int, parts: Sequence[Buffer]) -> None:
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
#: Every record header ends with the payload length.
_LENGTH = struct.Struct("<I")


class MessageReader:
    """Incrementally parse records from a non-blocking pipe (manager side).

    Not thread-safe: all readers share one scratch buffer.
    """

    __slots__ = ("buf", "fd", "header_size")

    def __init__(self, fd: int, header: struct.Struct) -> None:
        self.fd = fd
        self.buf = bytearray()
        self.header_size = header.size

    def read(self) -> Tuple[List[bytes], bool]:
        """Read what is available; return ``(complete records, eof)``."""
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
        records: List[bytes] = []
        buf = self.buf
        pos = 0
        header = self.header_size
        while len(buf) - pos >= header:
            (length,) = _LENGTH.unpack_from(buf, pos + header - _LENGTH.size)
            end = pos + header + length
            if end > len(buf):
                break
            records.append(bytes(buf[pos:end]))
            pos = end
        if pos:
            del buf[:pos]
        return records, eof


class MessageWriter:
    """Non-blocking writer that keeps what the pipe cannot take yet (manager side)."""

    __slots__ = ("fd", "pending")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending: List[memoryview] = []

    def write(self, parts: Sequence[Buffer]) -> bool:
        """Queue ``parts`` and write as much as possible; True when all was written."""
        if self.pending:
            self.pending.extend(memoryview(p) for p in parts)
            return self.flush()
        try:
            n = os.writev(self.fd, parts)
        except BlockingIOError:
            n = 0
        if n == sum(map(len, parts)):
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
