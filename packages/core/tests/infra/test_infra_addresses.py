"""Address finders return addresses a server on this machine can listen on."""
from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
import time
from typing import Iterator

import psutil
import pytest

from parsl.addresses import (
    address_by_hostname,
    address_by_interface,
    address_by_query,
    address_by_route,
    get_all_addresses,
    get_any_address,
    tcp_url,
)


def can_listen_on(address: str) -> bool:
    """Bind a TCP socket to ``address`` (IPv4, IPv6 or a resolvable name)."""
    family, _, _, _, sockaddr = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind(sockaddr)
        sock.listen()
    return True


def test_address_by_route_is_a_local_address() -> None:
    assert can_listen_on(address_by_route())


def test_address_by_hostname_resolves_to_this_machine() -> None:
    assert address_by_hostname() == socket.gethostname()
    assert can_listen_on(address_by_hostname())


def test_address_by_interface_of_loopback() -> None:
    loopback = next(name for name, addrs in psutil.net_if_addrs().items()
                    if any(a.address == "127.0.0.1" for a in addrs))
    assert address_by_interface(loopback) == "127.0.0.1"


def test_address_by_interface_names_the_interfaces_that_exist() -> None:
    with pytest.raises(ValueError) as info:
        address_by_interface("no-such-if0")
    assert "no-such-if0" in str(info.value)
    assert any(name in str(info.value) for name in psutil.net_if_addrs())


def test_unknown_interface_is_also_the_oserror_parsl_raises() -> None:
    with pytest.raises(OSError, match="no-such-if0"):
        address_by_interface("no-such-if0")


def test_get_all_addresses_includes_loopback_and_routed_address() -> None:
    found = get_all_addresses()
    assert "127.0.0.1" in found
    assert address_by_route() in found


def test_get_all_addresses_are_all_listenable() -> None:
    for address in get_all_addresses():
        assert can_listen_on(address), address


def test_get_any_address_is_not_loopback_and_listenable() -> None:
    address = get_any_address()
    assert not ipaddress.ip_address(address).is_loopback
    assert can_listen_on(address)


@pytest.fixture
def ip_service() -> Iterator[str]:
    """A local HTTP server answering like a public-IP service."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"203.0.113.7\n")

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_address_by_query_returns_the_address_the_service_reports(ip_service) -> None:
    assert address_by_query(timeout=5, url=ip_service) == "203.0.113.7"


def test_address_by_query_raises_when_the_service_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(OSError):
        address_by_query(timeout=2, url=f"http://127.0.0.1:{closed_port}/")


@pytest.mark.parametrize("address, port, url", [
    ("127.0.0.1", 55001, "tcp://127.0.0.1:55001"),
    ("::1", 55001, "tcp://[::1]:55001"),
    ("[::1]", "55001", "tcp://[::1]:55001"),
    ("::1", None, "tcp://::1"),
    ("::ffff:127.0.0.1", None, "tcp://::ffff:127.0.0.1"),
    ("::ffff:127.0.0.1", 55001, "tcp://[::ffff:127.0.0.1]:55001"),
    ("*", None, "tcp://*"),
    ("*", 55001, "tcp://*:55001"),
    ("login1.cluster.example.org", 9000, "tcp://login1.cluster.example.org:9000"),
    ("10.0.0.5", None, "tcp://10.0.0.5"),
])
def test_tcp_url(address, port, url) -> None:
    assert tcp_url(address, port) == url


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_tcp_url_without_port_binds_to_a_random_zmq_port(address) -> None:
    zmq = pytest.importorskip("zmq", reason="pyzmq is not a core dependency")
    context = zmq.Context()
    sock = context.socket(zmq.PULL)
    try:
        sock.setsockopt(zmq.IPV6, 1)
        port = sock.bind_to_random_port(tcp_url(address))
        assert port > 0
    finally:
        sock.close(linger=0)
        context.term()


def test_get_all_addresses_includes_ipv6_addresses_of_interfaces() -> None:
    found = get_all_addresses()
    for nics in psutil.net_if_addrs().values():
        for nic in nics:
            if nic.family == socket.AF_INET6 and "%" not in nic.address \
                    and not ipaddress.ip_address(nic.address).is_link_local:
                assert nic.address in found


@pytest.fixture
def silent_service() -> Iterator[str]:
    """A server that accepts connections and never answers (a black-holed service)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_address_by_query_gives_up_after_its_timeout(silent_service) -> None:
    started = time.monotonic()
    with pytest.raises(OSError, match=r"127\.0\.0\.1"):
        address_by_query(timeout=1, url=silent_service)
    assert time.monotonic() - started < 10


def test_address_by_query_without_network_fails_fast_naming_the_service() -> None:
    """Nothing resolves ``.invalid`` names, the way nothing resolves on a host without
    network (like this one)."""
    started = time.monotonic()
    with pytest.raises(OSError, match=r"cannot reach http://ip-service\.invalid/"):
        address_by_query(timeout=2, url="http://ip-service.invalid/")
    assert time.monotonic() - started < 10
