"""Length-prefixed messages over TCP (TLS when encrypted), between managers and the interchange.

With prefetch 0 every task costs one manager <-> interchange round trip on the critical
path (its result up, the next task down). Over a ZeroMQ DEALER/ROUTER pair each message
crosses two thread hand-offs per side (ZeroMQ's I/O thread), which makes that round trip
about twice as long, and costs more CPU, than one ``send``/``recv`` system call per
message on a non-blocking socket polled by the process's own event loop. So without
encryption the two worker connections are plain TCP; with ``encrypted=True`` the same
connections carry TLS (see :mod:`parsl_htex._security`), read and written through the
:class:`ssl.SSLSocket` by :class:`FrameReader` and :func:`writer_for`.

A message is its length (``<Q``) followed by its body, which is exactly what a ZeroMQ
frame of :mod:`parsl_htex._protocol` carries. The first message on each connection is
``HELLO`` + the manager's id (what a DEALER's identity told the ROUTER before).

Reading is bounded: a reader refuses (:class:`FrameTooLong`) a message announcing more
than its ``limit`` before buffering any of it, so a peer cannot make the interchange hold
more than one allowed message per connection.
"""
from __future__ import annotations

import socket
import ssl
import struct
from typing import List, Sequence, Tuple, Union

from parsl_htex import _protocol as P
from parsl_htex._pipes import Buffer, MessageWriter

__all__ = ["FRAME", "MAX_MESSAGE", "FrameReader", "FrameTooLong", "MessageWriter",
           "TlsWriter", "Writer", "configure", "frame", "split_batch", "writer_for"]

#: The length prefix of every message.
FRAME = struct.Struct("<Q")
#: Longest message a registered manager may send: one record of the largest payload with
#: its tag and header. Managers split larger result batches (see ``split_batch``).
MAX_MESSAGE = 1 + P.RESULT_HEADER.size + P.MAX_PAYLOAD

#: Scratch buffer every reader receives into: one ``recv_into`` takes in whatever has
#: arrived, and only complete messages are copied out. Shared, as every reader of a
#: process runs on its one event-loop thread.
_SCRATCH = bytearray(1 << 20)
_SCRATCH_VIEW = memoryview(_SCRATCH)
#: Most plaintext bytes one TLS record carries, hence one TLS receive returns.
_TLS_RECORD = 1 << 14


class FrameTooLong(ValueError):
    """A peer announced a message longer than its reader accepts."""


def frame(body: Buffer) -> bytes:
    """The length prefix to send ahead of ``body``."""
    return FRAME.pack(len(body))


def configure(sock: socket.socket) -> None:
    """Non-blocking, and no Nagle delay: every message is one write, sent at once."""
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class FrameReader:
    """Incrementally parse length-prefixed messages from a non-blocking socket (plain or
    :class:`ssl.SSLSocket`).

    Not thread-safe: all readers share one scratch buffer.
    """

    __slots__ = ("buf", "sock", "tls")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.tls = isinstance(sock, ssl.SSLSocket)
        #: Bytes of an incomplete message, kept between reads.
        self.buf = bytearray()

    def read(self, limit: int) -> Tuple[List[memoryview], bool]:
        """One receive: ``(complete messages, still open)``; not open at EOF or on a
        connection error. Raises :class:`FrameTooLong` when a message announces more than
        ``limit`` bytes.

        Each message is a view of its own bytes object, so it stays valid after the next
        read, and slicing it (as the interchange does to forward records) copies nothing.

        Over TLS one receive hands over one record (at most 16 kB): after a full record,
        which is likely part of a long message, the following ones are taken in at once
        rather than one per poll; and the read goes on while TLS holds decrypted bytes
        (a record only partly taken), which poll would not announce. After a shorter
        record TLS (without read-ahead, Python's default) has taken nothing more from the
        kernel, so poll announces whatever follows.
        """
        messages: List[memoryview] = []
        while True:
            try:
                n = self.sock.recv_into(_SCRATCH)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return messages, True
            except OSError:
                return messages, False
            if not n:
                return messages, False
            if n == _TLS_RECORD and self.tls:
                n = self._more_records(n)
            buf = self.buf
            if buf:
                buf += _SCRATCH_VIEW[:n]
                with memoryview(buf) as view:
                    pos = _parse(view, len(buf), limit, messages)
                del buf[:pos]
            else:
                pos = _parse(_SCRATCH_VIEW, n, limit, messages)
                if pos < n:
                    buf += _SCRATCH_VIEW[pos:n]
            if not (self.tls and self.sock.pending()):  # type: ignore[attr-defined]
                return messages, True

    def _more_records(self, n: int) -> int:
        """Receive TLS records into the scratch buffer after its first ``n`` bytes while
        they come full (and the buffer has room); return the total."""
        sock = self.sock
        got = n
        while got == _TLS_RECORD and n < len(_SCRATCH):
            try:
                got = sock.recv_into(_SCRATCH_VIEW[n:])
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError:
                break  # the next read reports the closed connection
            n += got
        return n


def _parse(data: memoryview, end: int, limit: int, messages: List[memoryview]) -> int:
    """Append the complete messages of ``data[:end]`` to ``messages``; return where the
    first incomplete one starts."""
    pos = 0
    size = FRAME.size
    unpack = FRAME.unpack_from
    while end - pos >= size:
        (length,) = unpack(data, pos)
        if length > limit:
            raise FrameTooLong(f"a message announcing {length} bytes (at most {limit} "
                               "accepted)")
        stop = pos + size + length
        if stop > end:
            break
        messages.append(memoryview(data[pos + size:stop].tobytes()))
        pos = stop
    return pos


class TlsWriter:
    """Non-blocking writer over a TLS socket, with :class:`MessageWriter`'s interface.

    TLS cannot gather buffers, so the parts are joined; a write TLS could not finish is
    retried with the same bytes, as OpenSSL requires.
    """

    __slots__ = ("pending", "sock")

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        #: The bytes not yet accepted, as a one-item list (empty when all is sent).
        self.pending: List[bytes] = []

    def write(self, parts: Sequence[Buffer]) -> bool:
        """Queue ``parts`` and write as much as possible; True when all was written."""
        self.pending.append(b"".join(parts))
        return self.flush()

    def flush(self) -> bool:
        """Write pending bytes; True when nothing is left. Raises OSError if the reader died."""
        while self.pending:
            data = self.pending[0]
            try:
                n = self.sock.send(data)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            if n == len(data):
                self.pending.pop(0)
            else:
                self.pending[0] = data[n:]
        return True


#: Either writer; both write without blocking and keep what the socket cannot take yet.
Writer = Union[MessageWriter, TlsWriter]


def writer_for(sock: socket.socket) -> Writer:
    """The non-blocking writer for ``sock``: gathered writes on the descriptor of a plain
    socket, writes through TLS for an :class:`ssl.SSLSocket`."""
    if isinstance(sock, ssl.SSLSocket):
        return TlsWriter(sock)
    return MessageWriter(sock.fileno())


def split_batch(tag: bytes, records: List[bytes], limit: int = MAX_MESSAGE) -> List[bytes]:
    """``tag`` + ``records`` as messages of at most ``limit`` bytes each (one, nearly
    always); a record longer than ``limit`` on its own still gets a message of its own."""
    messages: List[bytes] = []
    current: List[bytes] = [tag]
    size = len(tag)
    for record in records:
        if size + len(record) > limit and len(current) > 1:
            messages.append(b"".join(current))
            current, size = [tag], len(tag)
        current.append(record)
        size += len(record)
    messages.append(b"".join(current))
    return messages
