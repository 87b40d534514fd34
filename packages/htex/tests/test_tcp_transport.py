"""Managers talk to the interchange over TCP (parsl_htex._tcp), TLS when encrypted.

Hostile or broken peers on the worker ports are disconnected with a warning and bounded
memory, never disturbing real managers; a manager whose connection closes is lost at once;
and a manager that stops reading never blocks the interchange. Each test runs a real
interchange with a TcpPeer of the test standing in for a manager (next to a real one
where the test says so). The framing tests run without encryption (a TLS peer would
only add the handshake in front); the tests of stalled or non-reading peers run in both
modes, since TLS handshakes and TLS writes are driven by the interchange's loop too.
"""
from __future__ import annotations

import json
import os
import ssl
import time
from typing import Optional, Tuple

import pytest
from htex_support import TcpPeer, wait_for
from htex_test_tasks import add, sleep_then_return
from test_manager_messages import _valid_registration

from parsl_htex import _protocol as P
from parsl_htex import _security, _tcp
from parsl_htex.errors import ManagerLost

pytestmark = pytest.mark.slow

#: A heartbeat_threshold no test waits for: what these tests see happens well before it.
LONG_THRESHOLD = 120


def _log(ex) -> str:
    with open(os.path.join(ex.run_dir, "htex", "interchange.log")) as f:
        return f.read()


def _tls(ex) -> Optional[ssl.SSLContext]:
    """What a manager of ``ex`` connects with: TLS with the run's keys when encrypted."""
    return _security.client_tls_context(ex.cert_dir) if ex.encrypted else None


def _registered(ex, identity: bytes, worker_count: int = 1) -> Tuple[TcpPeer, TcpPeer]:
    tasks = TcpPeer(ex.worker_task_port, identity, tls=_tls(ex))
    results = TcpPeer(ex.worker_result_port, identity, tls=_tls(ex))
    info = {**_valid_registration(), "manager_id": identity.decode(),
            "worker_count": worker_count}
    tasks.send(P.REG + json.dumps(info).encode())
    assert tasks.recv()[:1] == P.OK
    return tasks, results


def _closed_after_sending(port: int, identity: Optional[bytes], data: bytes) -> bool:
    """Whether the interchange closes a connection to ``port`` (which said HELLO with
    ``identity`` first, unless None) after receiving the raw bytes ``data``."""
    peer = TcpPeer(port, identity)
    try:
        peer.sock.sendall(data)
        return peer.closed_by_interchange(timeout=20)
    finally:
        peer.close()


def _still_serves(ex) -> None:
    futures = [ex.submit(add, {}, i, 1) for i in range(20)]
    assert [f.result(timeout=60) for f in futures] == [i + 1 for i in range(20)]


def test_connection_not_starting_with_hello_is_closed(make_htex):
    ex = make_htex(encrypted=False, heartbeat_threshold=LONG_THRESHOLD)
    registration = P.REG + json.dumps(_valid_registration()).encode()
    assert _closed_after_sending(ex.worker_task_port, None,
                                 _tcp.frame(registration) + registration)
    assert "is not a HELLO" in _log(ex)
    _still_serves(ex)


def test_oversized_announced_length_closes_the_connection_before_its_body(make_htex):
    ex = make_htex(encrypted=False, heartbeat_threshold=LONG_THRESHOLD)
    assert _closed_after_sending(ex.worker_result_port, None,
                                 _tcp.FRAME.pack(_tcp.MAX_MESSAGE + 1))
    assert "a message announcing" in _log(ex)
    _still_serves(ex)


def test_unregistered_peer_is_limited_to_small_messages(make_htex):
    """Before registering, a peer may not make the interchange buffer more than a
    registration's worth, even for a length a manager could send later."""
    ex = make_htex(encrypted=False, heartbeat_threshold=LONG_THRESHOLD, scale_out=False)
    assert _closed_after_sending(ex.worker_task_port, b"greedy", _tcp.FRAME.pack(64 * 2**20))


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain-tcp", "tls"])
def test_silent_peer_is_disconnected_after_heartbeat_threshold(make_htex, encrypted):
    """With TLS the silent peer never starts its handshake: the interchange, which drives
    handshakes from its loop, serves a real manager meanwhile."""
    ex = make_htex(encrypted=encrypted, heartbeat_threshold=2, scale_out=False)
    peer = TcpPeer(ex.worker_task_port, None)
    try:
        ex.scale_out_facade(1)
        _still_serves(ex)
        assert peer.closed_by_interchange(timeout=30)
    finally:
        peer.close()
    assert "sent no HELLO" in _log(ex)


def test_connection_closed_mid_message_is_dropped_and_logged(make_htex):
    ex = make_htex(encrypted=False, heartbeat_threshold=LONG_THRESHOLD)
    tasks, results = _registered(ex, b"half")
    try:
        body = P.RESULTS + P.result_record(P.make_key(1, 1), 0, b"x" * 1000)
        results.sock.sendall((_tcp.frame(body) + body)[:500])
    finally:
        results.close()
        tasks.close()
    wait_for(lambda: "an incomplete message" in _log(ex),
             what="the cut-off message to be logged")
    _still_serves(ex)


def test_manager_whose_connection_closes_is_lost_at_once(make_htex):
    ex = make_htex(encrypted=False, heartbeat_threshold=LONG_THRESHOLD, scale_out=False)
    tasks, results = _registered(ex, b"doomed")
    fut = ex.submit(sleep_then_return, {}, 0, "never")
    try:
        assert tasks.recv(timeout=30)[:1] == P.TASKS
    finally:
        results.close()
        tasks.close()
    started = time.monotonic()
    with pytest.raises(ManagerLost, match="connection to the interchange closed"):
        fut.result(timeout=60)
    assert time.monotonic() - started < LONG_THRESHOLD / 2


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain-tcp", "tls"])
def test_manager_that_stops_reading_does_not_hold_up_others(make_htex, encrypted):
    """A peer with room for many tasks that never reads: 1 MB tasks fill its socket
    buffers, and the interchange goes on answering commands and serving a real manager."""
    ex = make_htex(encrypted=encrypted, heartbeat_threshold=LONG_THRESHOLD, scale_out=False)
    count = 30
    tasks, results = _registered(ex, b"stuck", worker_count=count)
    try:
        blob = b"x" * 2**20
        stuck = [ex.submit(add, {}, blob, b"") for _ in range(count)]
        wait_for(lambda: any(m["tasks"] == count for m in ex.connected_managers()),
                 timeout=60, what="every big task to be sent toward the stuck peer")
        ex.scale_out_facade(1)
        _still_serves(ex)
    finally:
        results.close()
        tasks.close()
    for fut in stuck:
        with pytest.raises(ManagerLost):
            fut.result(timeout=60)
