"""Resolving and probing the addresses managers are given (parsl_htex._net)."""
from __future__ import annotations

import socket
import time
from typing import Iterator, Tuple

import psutil
import pytest

from parsl_htex import _net


@pytest.fixture(params=["127.0.0.1", "::1"])
def listener(request) -> Iterator[Tuple[str, int]]:
    family = socket.AF_INET6 if ":" in request.param else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((request.param, 0))
        sock.listen()
        yield request.param, sock.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_probe_finds_the_listening_candidate_of_either_family(listener):
    ip, port = listener
    other = "127.0.0.1" if ip == "::1" else "::1"
    found, reasons = _net.probe([other, ip], port, timeout=5)
    assert found == ip
    assert other in reasons and "refused" in reasons[other]


def test_probe_prefers_the_earlier_candidate_when_both_answer():
    with socket.socket(socket.AF_INET6) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert _net.probe(["::1", "127.0.0.1"], port, timeout=5)[0] == "::1"
        assert _net.probe(["127.0.0.1", "::1"], port, timeout=5)[0] == "127.0.0.1"


def test_probe_gives_up_after_the_timeout_with_a_reason_per_candidate():
    started = time.monotonic()
    found, reasons = _net.probe(["127.0.0.1", "::1", "no-such-host.invalid"], closed_port(),
                                timeout=1.5)
    assert found is None
    assert time.monotonic() - started < 10
    assert set(reasons) == {"127.0.0.1", "::1", "no-such-host.invalid"}
    assert "does not resolve" in reasons["no-such-host.invalid"]


def test_probe_resolves_a_host_name_to_its_ipv6_address(listener, monkeypatch):
    """No host name resolves to ::1 on this machine (and /etc/hosts is shared), so the
    resolver is replaced, in this process only, by one that maps a name to the listener."""
    ip, port = listener
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        return real(ip if host == "login.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert _net.probe(["login.example"], port, timeout=5)[0] == ip


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", ["127.0.0.1"]), ("::1", ["::1"]), ("[::1]", ["::1"]),
    ("localhost", ["127.0.0.1"]),
])
def test_resolve_literals_and_names(text, expected):
    assert _net.resolve(text)[:1] == expected


def test_resolve_an_interface_name_gives_its_addresses():
    loopback = next(name for name, addrs in psutil.net_if_addrs().items()
                    if any(a.address == "127.0.0.1" for a in addrs))
    assert "127.0.0.1" in _net.resolve(loopback)


def test_resolve_an_unknown_name_raises_naming_it():
    with pytest.raises(_net.ResolveError, match=r"no-such-host\.invalid"):
        _net.resolve("no-such-host.invalid")


def test_resolve_is_bounded_when_the_resolver_hangs(monkeypatch):
    """A resolver that never answers (a dead DNS server) is simulated in-process."""
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: time.sleep(30))
    started = time.monotonic()
    with pytest.raises(_net.ResolveError, match=r"took more than 0\.5 s"):
        _net.resolve("slow.example", timeout=0.5)
    assert time.monotonic() - started < 5
