"""Draining ZeroMQ sockets without blocking, shared by the interchange and the manager."""
from __future__ import annotations

from typing import Any, Callable, Iterator, List

import zmq

#: Most messages taken from one socket before the event loop looks at the others.
DRAIN_BATCH = 256
#: Checking ZMQ_EVENTS before each non-blocking recv avoids the zmq.Again exception that
#: would otherwise end every drain (the check costs a third as much). The first recv goes
#: unchecked: callers drain a socket the poller has just reported readable.
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


def _drain(sock: zmq.Socket[bytes], receive: Callable[[int], Any], limit: int) -> Iterator[Any]:
    for i in range(limit):
        if i and not int(sock.get(_EVENTS)) & _POLLIN:
            return
        try:
            message = receive(zmq.NOBLOCK)
        except zmq.Again:
            return
        yield message


def ready_messages(sock: zmq.Socket[bytes], limit: int = DRAIN_BATCH) -> Iterator[zmq.Frame]:
    """Yield the single-frame messages waiting on ``sock`` (zero-copy), at most ``limit``,
    stopping as soon as none is waiting. For sockets whose peer sends one frame per message
    (every HTEX socket but a ROUTER)."""
    return _drain(sock, lambda flags: sock.recv(flags, copy=False), limit)


def _recv_frames(sock: zmq.Socket[bytes], flags: int) -> List[zmq.Frame]:
    """``recv_multipart(flags, copy=False)``, asking each frame whether more follow
    (a C attribute) instead of the socket (a getsockopt call costing ten times as much)."""
    frame = sock.recv(flags, copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(flags, copy=False)
        frames.append(frame)
    return frames


def ready_frames(sock: zmq.Socket[bytes], limit: int = DRAIN_BATCH) -> Iterator[List[zmq.Frame]]:
    """Yield the multipart messages waiting on ``sock`` (zero-copy frames), at most
    ``limit`` of them, stopping as soon as none is waiting."""
    return _drain(sock, lambda flags: _recv_frames(sock, flags), limit)
