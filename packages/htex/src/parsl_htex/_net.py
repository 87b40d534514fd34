"""Addresses for HTEX connections: resolving names, ZeroMQ URLs, probing candidates.

Shared by the executor (which resolves ``address`` and ``loopback_address`` before the
interchange binds them), the interchange (which binds) and the manager (which probes the
candidates it was given and connects to the first that answers). IPv4 and IPv6 are
treated alike: every socket gets ``zmq.IPV6`` and v6 literals are bracketed in URLs.

Name resolution runs on a helper thread so that a resolver that does not answer (no
network, a dead DNS server) costs at most ``timeout`` seconds instead of the libc default
of several retries.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

from parsl.addresses import tcp_url

__all__ = ["ResolveError", "is_ip", "probe", "resolve", "tcp_url"]

#: Default bound (seconds) on resolving one host name.
RESOLVE_TIMEOUT = 10.0


class ResolveError(OSError):
    """A name is neither an IP address, a network interface nor a resolvable host name."""


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _getaddrinfo(host: str, timeout: float) -> List[str]:
    """The IP addresses ``host`` resolves to, in resolver order, within ``timeout`` s."""
    outcome: Dict[str, Union[List[str], BaseException]] = {}

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            outcome["ips"] = list(dict.fromkeys(str(info[4][0]) for info in infos))
        except BaseException as e:  # handed to the waiting thread below
            outcome["error"] = e

    thread = threading.Thread(target=lookup, name=f"resolve-{host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ResolveError(errno.ETIMEDOUT,
                           f"resolving host name {host!r} took more than {timeout} s")
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise ResolveError(errno.ENOENT, f"host name {host!r} does not resolve: {error}")
    ips = outcome.get("ips")
    assert isinstance(ips, list)
    return ips


def _interface_ips(name: str) -> Optional[List[str]]:
    """Addresses of network interface ``name`` (v4 first, no link-local); None if no such
    interface exists."""
    import psutil

    nics = psutil.net_if_addrs()
    if name not in nics:
        return None
    v4 = [a.address for a in nics[name] if a.family == socket.AF_INET]
    v6 = [a.address for a in nics[name] if a.family == socket.AF_INET6
          and not ipaddress.ip_address(a.address.split("%", 1)[0]).is_link_local]
    return v4 + v6


def resolve(host: str, timeout: float = RESOLVE_TIMEOUT) -> List[str]:
    """IP addresses for ``host``: itself if it is an IP literal (``[::1]`` brackets
    allowed), a network interface's addresses if it names one, else what the resolver says.

    Raises :class:`ResolveError` (an ``OSError``) saying which of these ``host`` is not.
    """
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if is_ip(name):
        return [name]
    if not name:
        raise ResolveError(errno.EINVAL, "an empty string is not an address")
    ips = _interface_ips(name)
    if ips is not None:
        if not ips:
            raise ResolveError(errno.EADDRNOTAVAIL,
                               f"network interface {name!r} has no usable IP address")
        return ips
    return _getaddrinfo(name, timeout)


def probe(candidates: Sequence[str], port: int, timeout: float,
          resolve_timeout: float = RESOLVE_TIMEOUT) -> Tuple[Optional[str], Dict[str, str]]:
    """Find which of ``candidates`` accepts TCP connections on ``port``.

    Every candidate (and every address a host name resolves to) is tried at once with
    non-blocking connects, retried until ``timeout`` seconds have passed. Returns the IP
    of the earliest candidate in ``candidates`` order among those that answered first, and
    for every candidate that failed, why; ``(None, reasons)`` if none answered.
    """
    deadline = time.monotonic() + timeout
    reasons: Dict[str, str] = {}
    targets: List[Tuple[str, str]] = []
    for cand in candidates:
        try:
            targets.extend((cand, ip) for ip in resolve(cand, min(resolve_timeout, timeout)))
        except ResolveError as e:
            reasons[cand] = e.strerror or str(e)
    while targets:
        pending: Dict[socket.socket, Tuple[int, str, str]] = {}
        for order, (cand, ip) in enumerate(targets):
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError as e:
                reasons[cand] = f"{ip}: {e.strerror or e}"
                continue
            sock.setblocking(False)
            code = sock.connect_ex((ip, port))
            if code in (0, errno.EINPROGRESS, errno.EAGAIN):
                pending[sock] = (order, cand, ip)
            else:
                reasons[cand] = f"{ip}: {_describe(code)}"
                sock.close()
        try:
            found = _first_connected(pending, deadline, reasons)
        finally:
            for sock in pending:
                sock.close()
        if found is not None:
            return found, reasons
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(0.5, remaining))
    return None, reasons


def _first_connected(pending: Dict[socket.socket, Tuple[int, str, str]], deadline: float,
                     reasons: Dict[str, str]) -> Optional[str]:
    """Wait for the connects in ``pending``; return the best IP that connected, recording
    why the others failed; None when all failed or the deadline (or 1 s) passed."""
    waiting = dict(pending)
    round_end = min(deadline, time.monotonic() + 1.0)
    while waiting:
        remaining = round_end - time.monotonic()
        if remaining <= 0:
            for _, cand, ip in waiting.values():
                reasons.setdefault(cand, f"{ip}: no answer (connection timed out)")
            return None
        _, writable, _ = select.select([], list(waiting), [], remaining)
        connected: List[Tuple[int, str]] = []
        for sock in writable:
            order, cand, ip = waiting.pop(sock)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                connected.append((order, ip))
            else:
                reasons[cand] = f"{ip}: {_describe(code)}"
        if connected:
            return min(connected)[1]
    return None


def _describe(code: int) -> str:
    return f"{os.strerror(code)} (errno {code})"
