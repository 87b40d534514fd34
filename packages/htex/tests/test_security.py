"""encrypted=True: only holders of the run's client key can talk to the interchange.

The managers' connections are TLS with a certificate per side made for the run (see
parsl_htex._security); these tests are intruders on the worker ports without the run's
client key, and the controls that show their messages would otherwise be answered.
"""
from __future__ import annotations

import json
import os
import pickle
import ssl
from typing import Optional

import pytest
from htex_support import TcpPeer, manager_process
from htex_test_tasks import sleep_then_return

from parsl_htex import _protocol as P
from parsl_htex import _security

REGISTRATION = json.dumps({"manager_id": "intruder", "block_id": "0", "hostname": "evil",
                           "worker_count": 4, "python": "3.11",
                           "htex_version": "2026.11.0"}).encode()


def _intruder_context(run_cert_dir: str, own_cert_dir: Optional[str]) -> ssl.SSLContext:
    """A TLS client that trusts the run's server certificate (as if it had stolen it) and
    presents the client certificate of ``own_cert_dir`` (another run's), or none."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=os.path.join(run_cert_dir, "server.crt"))
    if own_cert_dir is not None:
        ctx.load_cert_chain(os.path.join(own_cert_dir, "client.crt"),
                            os.path.join(own_cert_dir, "client.pem"))
    return ctx


def _refused(peer_factory) -> bool:
    """Whether an intruder's registration gets no answer: its handshake fails, or the
    interchange closes the connection without replying."""
    try:
        peer = peer_factory()
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        peer.send(P.REG + REGISTRATION)
        return peer.closed_by_interchange(10)
    except (ssl.SSLError, ConnectionError):
        return True
    finally:
        peer.close()


def test_peer_speaking_plain_tcp_is_disconnected_without_an_answer(make_htex):
    ex = make_htex(scale_out=False, encrypted=True)
    pending = ex.submit(sleep_then_return, {}, 0, "x")
    assert _refused(lambda: TcpPeer(ex.worker_task_port, b"intruder"))
    assert ex.connected_managers() == []
    assert not pending.done()


@pytest.mark.parametrize("certificate", ["another-runs", "none"])
def test_peer_without_the_run_client_certificate_cannot_register(make_htex, tmp_path,
                                                                 certificate):
    ex = make_htex(scale_out=False, encrypted=True)
    pending = ex.submit(sleep_then_return, {}, 0, "x")
    own = None
    if certificate == "another-runs":
        own = _security.generate_keys(str(tmp_path / "other-run"))
    ctx = _intruder_context(ex.cert_dir, own)
    assert _refused(lambda: TcpPeer(ex.worker_task_port, b"intruder", tls=ctx))
    assert ex.connected_managers() == []
    assert not pending.done()


def test_manager_does_not_trust_an_interchange_of_another_run(make_htex, tmp_path):
    """The manager pins the run's server certificate: a server with another run's keys
    (an impostor on the interchange's address) fails its handshake."""
    ex = make_htex(scale_out=False, encrypted=True)
    other = _security.generate_keys(str(tmp_path / "other-run"))
    ctx = _security.client_tls_context(other)
    with pytest.raises(ssl.SSLError, match="certificate verify failed"):
        TcpPeer(ex.worker_task_port, b"manager", tls=ctx)


def test_the_same_registration_is_answered_with_the_run_client_certificate(make_htex):
    """Control for the tests above: the intruder's message is well formed, so the refusal
    there comes from the missing certificate, not from a malformed registration."""
    ex = make_htex(scale_out=False, encrypted=True)
    peer = TcpPeer(ex.worker_task_port, b"intruder",
                   tls=_security.client_tls_context(ex.cert_dir))
    try:
        peer.send(P.REG + REGISTRATION)
        assert peer.recv()[:1] in (P.OK, P.NO)
    finally:
        peer.close()


def test_the_same_registration_is_answered_when_encryption_is_off(make_htex):
    ex = make_htex(scale_out=False, encrypted=False)
    peer = TcpPeer(ex.worker_task_port, b"intruder")
    try:
        peer.send(P.REG + REGISTRATION)
        assert peer.recv()[:1] in (P.OK, P.NO)
    finally:
        peer.close()


def test_peer_without_the_run_client_certificate_cannot_inject_a_result(make_htex, tmp_path):
    ex = make_htex(encrypted=True)
    manager = manager_process(ex)
    fut = ex.submit(sleep_then_return, {}, 2, "genuine")
    key = P.make_key(fut.parsl_executor_task_id, None)
    ctx = _intruder_context(ex.cert_dir, _security.generate_keys(str(tmp_path / "other")))
    manager_id = ex.connected_managers()[0]["manager"].encode()

    def forge() -> TcpPeer:
        peer = TcpPeer(ex.worker_result_port, manager_id, tls=ctx)
        peer.send(P.RESULTS + P.result_record(key, 0, pickle.dumps("forged")))
        return peer

    _refused(forge)
    assert fut.result(timeout=60) == "genuine"
    assert manager.is_running()


def test_registered_manager_with_the_keys_is_accepted(make_htex):
    ex = make_htex(encrypted=True)
    assert manager_process(ex).is_running()
    assert ex.submit(sleep_then_return, {}, 0, "ok").result(timeout=60) == "ok"


def test_certificates_are_made_for_each_run_and_private(tmp_path):
    first = _security.generate_keys(str(tmp_path / "a"))
    second = _security.generate_keys(str(tmp_path / "b"))
    for name in ("server.crt", "server.pem", "client.crt", "client.pem"):
        with open(os.path.join(first, name), "rb") as a, \
                open(os.path.join(second, name), "rb") as b:
            assert a.read() != b.read()
        assert os.stat(os.path.join(first, name)).st_mode & 0o077 == 0
