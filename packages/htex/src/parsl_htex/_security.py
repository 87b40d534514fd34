"""Keys and connection setup for ``encrypted=True``, shared by the executor, interchange
and managers.

Every connection of an encrypted run is authenticated both ways with keys made for the
run, which exist only in its ``certificates/`` directory (mode 0o700, files 0o600):

- the executor's ZeroMQ sockets to the interchange are CurveZMQ: the interchange's
  sockets are CURVE servers and a ZAP authenticator admits only clients presenting the
  run's client key;
- the managers' TCP connections to the interchange (see :mod:`parsl_htex._tcp`) are TLS
  1.2 or later, with a self-signed certificate for each side: the interchange accepts only
  a client presenting the run's client certificate, and the manager accepts only the
  run's server certificate (pinned; host names are not checked, since managers reach
  the interchange by whatever address works). TLS rather than CurveZMQ there because
  those connections are plain sockets read by the process's own event loop, with no
  ZeroMQ I/O thread between (the point of that transport), and TLS is what the standard
  library offers for that.

Knowing the server's public key or certificate is therefore not enough to connect: a peer
needs the client's secret key.
"""
from __future__ import annotations

import datetime
import logging
import os
import ssl
from typing import TYPE_CHECKING, Any, Optional, Tuple

from parsl.errors import OptionalModuleMissing

if TYPE_CHECKING:  # pyzmq is imported where it is used: managers never need it
    import zmq
    import zmq.auth.thread

logger = logging.getLogger(__name__)

SERVER = "server"
CLIENT = "client"
#: How long the run's TLS certificates are valid; a clock skew of a day between the
#: submit host and the nodes is tolerated. Certificates are pinned, so expiry only bounds
#: how long a copied key stays useful.
_TLS_VALID_DAYS = 3650
_TLS_SKEW = datetime.timedelta(days=1)


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def generate_keys(cert_dir: str) -> str:
    """Create this run's server and client key pairs in ``cert_dir``; return the dir.

    Files are ``server.key``/``server.key_secret`` and ``client.key``/``client.key_secret``
    in ZeroMQ's certificate format, and ``server.crt``/``server.pem`` and
    ``client.crt``/``client.pem`` (TLS certificate and private key, PEM), readable by the
    owner only.
    """
    import zmq

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
    for name in (SERVER, CLIENT):
        _write_tls_pair(cert_dir, name)
    logger.debug("Generated CurveZMQ keys and TLS certificates in %s", cert_dir)
    return cert_dir


def _tls_paths(cert_dir: str, name: str) -> Tuple[str, str]:
    """``(certificate, private key)`` PEM files of TLS identity ``name``."""
    return (os.path.join(cert_dir, f"{name}.crt"), os.path.join(cert_dir, f"{name}.pem"))


def _write_tls_pair(cert_dir: str, name: str) -> None:
    """A new P-256 key and a self-signed certificate for it (``<name>.crt``/``.pem``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"parsl-htex-{name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _TLS_SKEW)
            .not_valid_after(now + datetime.timedelta(days=_TLS_VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = _tls_paths(cert_dir, name)
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))


def _tls_context(cert_dir: str, purpose: int, own: str, peer: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(*_tls_paths(cert_dir, own))
    # The peer's own certificate is the only trust anchor: nothing else verifies.
    ctx.load_verify_locations(cafile=_tls_paths(cert_dir, peer)[0])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def server_tls_context(cert_dir: str) -> ssl.SSLContext:
    """The interchange's TLS context: the run's server certificate, and only the run's
    client certificate accepted from managers."""
    ctx = _tls_context(cert_dir, ssl.PROTOCOL_TLS_SERVER, SERVER, CLIENT)
    ctx.num_tickets = 0  # a manager connects once: no session to resume, no ticket to send
    return ctx


def client_tls_context(cert_dir: str) -> ssl.SSLContext:
    """A manager's TLS context: the run's client certificate, and only the run's server
    certificate accepted (pinned, so the host name is not checked)."""
    ctx = _tls_context(cert_dir, ssl.PROTOCOL_TLS_CLIENT, CLIENT, SERVER)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


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
