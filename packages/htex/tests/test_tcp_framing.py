"""The length-prefixed framing of the managers' TCP connections (parsl_htex._tcp), over a
real socket pair, plain and TLS, and the interchange's listening sockets for them."""
from __future__ import annotations

import errno
import select
import socket
import ssl
import threading
from typing import Iterator, List, Tuple

import pytest

from parsl_htex import _security, _tcp, interchange


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, _tcp.FrameReader]]:
    """A blocking writer socket and a reader on its non-blocking peer."""
    writer, reading = socket.socketpair()
    reading.setblocking(False)
    yield writer, _tcp.FrameReader(reading)
    writer.close()
    reading.close()


def _read(reader: _tcp.FrameReader, limit: int = _tcp.MAX_MESSAGE) -> Tuple[List[bytes], bool]:
    assert select.select([reader.sock], [], [], 10)[0], "nothing to read within 10 s"
    messages, still_open = reader.read(limit)
    return [m.tobytes() for m in messages], still_open


def test_a_message_split_across_reads_is_whole_once_complete(pair):
    writer, reader = pair
    wire = _tcp.frame(b"hello world") + b"hello world"
    writer.sendall(wire[:5])
    assert _read(reader) == ([], True)
    writer.sendall(wire[5:])
    assert _read(reader) == ([b"hello world"], True)


def test_messages_arriving_together_are_all_returned_in_order(pair):
    writer, reader = pair
    bodies = [b"a", b"", b"c" * 3000]
    writer.sendall(b"".join(_tcp.frame(b) + b for b in bodies))
    assert _read(reader) == (bodies, True)


def test_messages_stay_valid_after_later_reads(pair):
    """Messages are handed on (forwarded records) after the scratch buffer is reused."""
    writer, reader = pair
    writer.sendall(_tcp.frame(b"first") + b"first")
    assert select.select([reader.sock], [], [], 10)[0]
    first, _ = reader.read(100)
    writer.sendall(_tcp.frame(b"second") + b"second")
    _read(reader)
    assert [m.tobytes() for m in first] == [b"first"]


def test_length_over_the_limit_is_refused_before_the_body_arrives(pair):
    writer, reader = pair
    writer.sendall(_tcp.FRAME.pack(1001))
    with pytest.raises(_tcp.FrameTooLong, match="1001"):
        _read(reader, limit=1000)


def test_eof_is_reported(pair):
    writer, reader = pair
    writer.shutdown(socket.SHUT_WR)
    assert _read(reader) == ([], False)


def test_split_batch_keeps_each_message_within_the_limit():
    records = [b"x" * 40] * 10
    messages = _tcp.split_batch(b"R", records, limit=100)
    assert all(len(m) <= 100 for m in messages)
    assert b"".join(m[1:] for m in messages) == b"".join(records)
    assert all(m[:1] == b"R" for m in messages)


def test_split_batch_sends_one_message_when_it_fits():
    assert _tcp.split_batch(b"R", [b"ab", b"cd"]) == [b"Rabcd"]


@pytest.fixture
def tls_pair(tmp_path) -> Iterator[Tuple[ssl.SSLSocket, ssl.SSLSocket]]:
    """Both ends of a connection with the run's TLS (certificates made for the test),
    non-blocking: (writing end, reading end)."""
    cert_dir = _security.generate_keys(str(tmp_path / "certificates"))
    a, b = socket.socketpair()
    server: List[ssl.SSLSocket] = []
    handshake = threading.Thread(target=lambda: server.append(
        _security.server_tls_context(cert_dir).wrap_socket(b, server_side=True)))
    handshake.start()
    client = _security.client_tls_context(cert_dir).wrap_socket(a)
    handshake.join(10)
    writing, reading = client, server[0]
    writing.setblocking(False)
    reading.setblocking(False)
    yield writing, reading
    writing.close()
    reading.close()


def test_tls_messages_of_every_size_arrive_whole_and_poll_announces_each(tls_pair):
    """Messages around the 16 kB TLS record size and larger than the reader's 1 MB scratch
    buffer: each read after a poll makes progress, and poll announces every byte TLS has
    not handed over yet (a message stuck in TLS's buffer would time out here)."""
    writing, reading = tls_pair
    bodies = [b"a", bytes(16384 - 8), bytes(16384), b"b" * 3, bytes(5 << 20), b"", b"end"]
    writer = _tcp.writer_for(writing)
    reader = _tcp.FrameReader(reading)
    assert isinstance(writer, _tcp.TlsWriter)
    got: List[bytes] = []
    pending = [(_tcp.frame(b), b) for b in bodies]
    while len(got) < len(bodies):
        while pending and not writer.pending:  # as the interchange does: never blocks
            writer.write(pending.pop(0))
        want_write = [writing] if writer.pending else []
        readable, writable, _ = select.select([reading], want_write, [], 10)
        assert readable or writable, f"stalled after {len(got)} of {len(bodies)} messages"
        if writable:
            writer.flush()
        if readable:
            messages, still_open = reader.read(_tcp.MAX_MESSAGE)
            assert still_open
            got += [m.tobytes() for m in messages]
    assert got == bodies


def test_tls_eof_is_reported(tls_pair):
    writing, reading = tls_pair
    writing.close()
    reader = _tcp.FrameReader(reading)
    assert select.select([reading], [], [], 10)[0]
    assert reader.read(100) == ([], False)


def test_wildcard_listens_on_ipv4_when_the_host_has_no_ipv6(monkeypatch):
    real = socket.socket

    def without_ipv6(family: int = socket.AF_INET, *args, **kwargs) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", without_ipv6)
    with interchange._listener("*", 0) as sock:
        assert sock.family == socket.AF_INET and sock.getsockname()[0] == "0.0.0.0"


def test_wildcard_listens_on_both_families_when_the_host_has_ipv6():
    with interchange._listener("*", 0) as sock:
        assert sock.family == socket.AF_INET6
        port = sock.getsockname()[1]
        for host in ("127.0.0.1", "::1"):
            with socket.create_connection((host, port), timeout=10):
                pass
