"""Draining sockets that the interchange and the manager poll by their ZMQ_FD.

Such a socket's descriptor only becomes readable again once a drain has found the socket
empty, so a drain that stops early must say so (the ``backlog``), or the messages left
would wait for some unrelated later message. Real ZeroMQ sockets over loopback TCP.
"""
from __future__ import annotations

import select
import time
from typing import Any, Iterator, List, Tuple

import pytest
import zmq

from parsl_htex._zmq import Backlog, notification_fd, ready_messages

#: Generous bound for loopback delivery on a loaded machine (seconds).
DEADLINE = 20.0


@pytest.fixture
def push_pull() -> Iterator[Tuple[Any, Any]]:
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.linger = 0
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(zmq.PUSH)
    push.linger = 0
    push.connect(f"tcp://127.0.0.1:{port}")
    yield push, pull
    ctx.destroy(linger=0)


def _wait_readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(DEADLINE * 1000))


def _receive_all(sock: Any, count: int) -> List[bytes]:
    """Drain ``sock`` by descriptor until ``count`` messages came, or fail at DEADLINE."""
    fd = notification_fd(sock)
    got: List[bytes] = []
    backlog: Backlog = set()
    deadline = time.monotonic() + DEADLINE
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} of {count} messages arrived"
        if not backlog:
            _wait_readable(fd)
        backlog.clear()
        got += [f.bytes for f in ready_messages(sock, limit=4, backlog=backlog)]
    return got


@pytest.fixture
def inproc_pair() -> Iterator[Tuple[Any, Any]]:
    """A PUSH/PULL pair whose sends are queued at the receiver when send() returns."""
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://drain-test")
    push = ctx.socket(zmq.PUSH)
    push.connect("inproc://drain-test")
    yield push, pull
    ctx.destroy(linger=0)


def test_a_drain_stopped_at_its_limit_puts_the_socket_in_the_backlog(inproc_pair):
    push, pull = inproc_pair
    for i in range(7):
        push.send(b"m%d" % i)
    backlog: Backlog = set()
    first = [f.bytes for f in ready_messages(pull, limit=4, backlog=backlog)]
    assert first == [b"m0", b"m1", b"m2", b"m3"]
    assert backlog == {pull}


def test_a_drain_that_empties_the_socket_leaves_no_backlog(inproc_pair):
    push, pull = inproc_pair
    for i in range(3):
        push.send(b"m%d" % i)
    backlog: Backlog = set()
    got = [f.bytes for f in ready_messages(pull, limit=4, backlog=backlog)]
    assert got == [b"m0", b"m1", b"m2"]
    assert backlog == set()


def test_messages_sent_after_a_drain_wake_the_descriptor_again(push_pull):
    """The property the event loops rely on: once drained, the next message is announced."""
    push, pull = push_pull
    for round_ in range(3):
        for i in range(10):
            push.send(b"%d-%d" % (round_, i))
        assert _receive_all(pull, 10) == [b"%d-%d" % (round_, i) for i in range(10)]
