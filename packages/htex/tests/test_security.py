"""encrypted=True: only holders of the run's client key can talk to the interchange."""
from __future__ import annotations

import json

import pytest
import zmq
from htex_support import TcpPeer, manager_process
from htex_test_tasks import sleep_then_return

from parsl_htex import _protocol as P
from parsl_htex import _security

REGISTRATION = json.dumps({"manager_id": "intruder", "block_id": "0", "hostname": "evil",
                           "worker_count": 4, "python": "3.11",
                           "htex_version": "2026.11.0"}).encode()


def _dealer(ctx: zmq.Context, port: int, *, server_key: bytes = b"",
            random_keys: bool = False) -> zmq.Socket:
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.setsockopt(zmq.IDENTITY, b"intruder")
    if random_keys:
        public, secret = zmq.curve_keypair()
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.curve_serverkey = server_key
    sock.connect(f"tcp://127.0.0.1:{port}")
    return sock


@pytest.mark.parametrize("random_keys", [False, True], ids=["plaintext", "unknown-curve-key"])
def test_client_without_the_run_keys_cannot_register_or_get_tasks(make_htex, random_keys):
    ex = make_htex(scale_out=False, encrypted=True)
    pending = ex.submit(sleep_then_return, {}, 0, "x")
    ctx = zmq.Context()
    try:
        server_key = _security.load_public(ex.cert_dir, _security.SERVER)
        sock = _dealer(ctx, ex.worker_task_port, server_key=server_key, random_keys=random_keys)
        sock.send(P.REG + REGISTRATION)
        assert sock.poll(2000) == 0, "the interchange answered an unauthenticated client"
        assert ex.connected_managers() == []
    finally:
        ctx.destroy(linger=0)
    assert not pending.done()


def test_the_same_registration_is_answered_when_encryption_is_off(make_htex):
    """Control for the test above: the intruder's message is well formed, so the silence
    there comes from the missing keys, not from a malformed registration."""
    ex = make_htex(scale_out=False, encrypted=False)
    peer = TcpPeer(ex.worker_task_port, b"intruder")
    try:
        peer.send(P.REG + REGISTRATION)
        assert peer.recv()[:1] in (P.OK, P.NO)
    finally:
        peer.close()


def test_client_without_the_run_keys_cannot_inject_a_result(make_htex):
    ex = make_htex(encrypted=True)
    manager_process(ex)
    fut = ex.submit(sleep_then_return, {}, 2, "genuine")
    key = P.make_key(fut.parsl_executor_task_id, None)
    ctx = zmq.Context()
    try:
        sock = _dealer(ctx, ex.worker_result_port)
        fake = __import__("pickle").dumps("forged")
        sock.send(P.RESULTS + P.result_record(key, 0, fake))
        sock.poll(500)
    finally:
        ctx.destroy(linger=0)
    assert fut.result(timeout=60) == "genuine"


def test_registered_manager_with_the_keys_is_accepted(make_htex):
    ex = make_htex(encrypted=True)
    assert manager_process(ex).is_running()
