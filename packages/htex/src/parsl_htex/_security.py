"""CurveZMQ keys and socket setup shared by the executor, interchange and managers.

With ``encrypted=True`` every socket the interchange binds is a CURVE server and a ZAP
authenticator admits only clients presenting the run's client key. Knowing the server's
public key is therefore not enough to connect: a peer needs the client secret key, which
exists only in the run's ``certificates/`` directory (mode 0o700, files 0o600).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Optional, Tuple

import zmq

from parsl.errors import OptionalModuleMissing

logger = logging.getLogger(__name__)

SERVER = "server"
CLIENT = "client"


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def generate_keys(cert_dir: str) -> str:
    """Create this run's server and client key pairs in ``cert_dir``; return the dir.

    Files are ``server.key``/``server.key_secret`` and ``client.key``/``client.key_secret``
    in ZeroMQ's certificate format, readable by the owner only.
    """
    if not zmq.has("curve"):
        raise OptionalModuleMissing(["libzmq with CURVE"], "encrypted=True needs a libzmq built "
                                    "with CURVE support; install pyzmq's wheels or set "
                                    "encrypted=False")
    os.makedirs(cert_dir, mode=0o700, exist_ok=True)
    os.chmod(cert_dir, 0o700)
    for name in (SERVER, CLIENT):
        public, secret = zmq.curve_keypair()
        _write_private(os.path.join(cert_dir, f"{name}.key"),
                       b"metadata\ncurve\n    public-key = \"" + public + b"\"\n")
        _write_private(os.path.join(cert_dir, f"{name}.key_secret"),
                       b"metadata\ncurve\n    public-key = \"" + public + b"\"\n"
                       b"    secret-key = \"" + secret + b"\"\n")
    logger.debug("Generated CurveZMQ keys in %s", cert_dir)
    return cert_dir


def load_keypair(cert_dir: str, name: str) -> Tuple[bytes, bytes]:
    """Return ``(public, secret)`` of key pair ``name`` from ``cert_dir``."""
    import zmq.auth

    public, secret = zmq.auth.load_certificate(os.path.join(cert_dir, f"{name}.key_secret"))
    if secret is None:
        raise ValueError(f"{cert_dir}/{name}.key_secret holds no secret key")
    return public, secret


def load_public(cert_dir: str, name: str) -> bytes:
    import zmq.auth

    public, _ = zmq.auth.load_certificate(os.path.join(cert_dir, f"{name}.key"))
    return public


def start_authenticator(ctx: zmq.Context[Any],
                        cert_dir: str) -> zmq.auth.thread.ThreadAuthenticator:
    """Start a ZAP handler in ``ctx`` admitting only the run's client key."""
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(ctx, log=logging.getLogger("parsl_htex.zap"))
    auth.start()
    client_public = load_public(cert_dir, CLIENT)
    auth.configure_curve_callback(domain="*", credentials_provider=_OnlyKey(client_public))
    return auth


class _OnlyKey:
    """ZAP credentials provider accepting exactly one client public key."""

    def __init__(self, allowed_z85: bytes) -> None:
        self.allowed = allowed_z85

    def callback(self, domain: str, key: bytes) -> bool:
        ok = key == self.allowed
        if not ok:
            logger.warning("Refused a CURVE client with an unknown key (domain %r)", domain)
        return ok


def make_server(sock: zmq.Socket[Any], cert_dir: Optional[str]) -> None:
    """Make ``sock`` a CURVE server with the run's server key (no-op without a cert_dir)."""
    if cert_dir is None:
        return
    public, secret = load_keypair(cert_dir, SERVER)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True


def make_client(sock: zmq.Socket[Any], cert_dir: Optional[str]) -> None:
    """Make ``sock`` a CURVE client of the run's server (no-op without a cert_dir)."""
    if cert_dir is None:
        return
    public, secret = load_keypair(cert_dir, CLIENT)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = load_public(cert_dir, SERVER)
