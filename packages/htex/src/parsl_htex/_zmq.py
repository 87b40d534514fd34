"""Draining ZeroMQ sockets without blocking: the interchange's sockets from the executor.

Receive-only sockets are polled through their notification descriptor (``ZMQ_FD``) as
plain file descriptors: ``zmq_poll`` asks every ZeroMQ socket it is given for its events
twice per call (each a system call into the socket's mailbox), which cost more than the
rest of a pass through the interchange's loop. The descriptor only says that the socket's
state *may* have changed, and only once the socket has been found empty, so a socket
polled this way must be drained until ZeroMQ says it is empty (every drain here ends that
way, or records the socket in ``backlog`` when it stops at its ``limit``), and a send on
it must be followed by a drain, since a send may take in the news of waiting messages.
(The managers' connections are plain or TLS sockets, see :mod:`parsl_htex._tcp`.)
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Set

import zmq

#: Most messages taken from one socket before the event loop looks at the others.
DRAIN_BATCH = 256
#: Checking ZMQ_EVENTS before each non-blocking recv avoids the zmq.Again exception that
#: would otherwise end every drain (the check costs a third as much). The first recv goes
#: unchecked: callers drain a socket the poller has just reported readable.
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


_FD = int(zmq.FD)

#: Sockets a drain left with messages waiting (it reached its limit).
Backlog = Set["zmq.Socket[Any]"]


def notification_fd(sock: zmq.Socket[Any]) -> int:
    """``sock``'s ZMQ_FD, to poll as a plain descriptor (see the module docstring)."""
    return int(sock.get(_FD))


def _drain(sock: zmq.Socket[bytes], receive: Callable[[int], Any], limit: int,
           backlog: Optional[Backlog]) -> Iterator[Any]:
    for i in range(limit):
        if i and not int(sock.get(_EVENTS)) & _POLLIN:
            return
        try:
            message = receive(zmq.NOBLOCK)
        except zmq.Again:
            return
        yield message
    if backlog is not None:
        backlog.add(sock)


def ready_messages(sock: zmq.Socket[bytes], limit: int = DRAIN_BATCH,
                   backlog: Optional[Backlog] = None) -> Iterator[zmq.Frame]:
    """Yield the single-frame messages waiting on ``sock`` (zero-copy), at most ``limit``,
    stopping as soon as none is waiting (or adding ``sock`` to ``backlog`` when it stops
    at ``limit``). For sockets whose peer sends one frame per message."""
    return _drain(sock, lambda flags: sock.recv(flags, copy=False), limit, backlog)
