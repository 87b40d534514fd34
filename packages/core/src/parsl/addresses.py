"""Ways to find an address of this host that workers on other nodes can connect to.

Pilot-job executors tell the processes they launch where to connect back. Which of a
host's addresses is reachable from the compute nodes depends on the site, so Parsl offers
several strategies; a config picks one (``address=address_by_interface("ib0")``) or lets
the executor give workers every candidate (:func:`get_all_addresses`) to probe in turn.

Every function here returns a string usable as a connect address, or raises an exception
saying why none could be found; none of them blocks for longer than its timeout.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import urllib.request
from typing import Callable, List, Set, Union

import psutil

logger = logging.getLogger(__name__)

__all__ = [
    "InterfaceAddressError",
    "address_by_hostname",
    "address_by_interface",
    "address_by_query",
    "address_by_route",
    "get_all_addresses",
    "get_any_address",
    "tcp_url",
]

# A public address used only to ask the kernel which local address routes outward. No
# packet is sent: connecting a UDP socket only consults the routing table.
_ROUTE_PROBE_V4 = "8.8.8.8"
_ROUTE_PROBE_V6 = "2001:4860:4860::8888"

_PUBLIC_IP_SERVICE = "https://api.ipify.org"


def address_by_route() -> str:
    """Return the local address the routing table would use for outbound traffic.

    This is the address of the default-route interface, usually the right choice on a
    login node whose compute nodes reach it through the same network. Falls back to
    IPv6 when the host has no IPv4 default route.
    """
    errors: List[str] = []
    for family, probe in ((socket.AF_INET, _ROUTE_PROBE_V4), (socket.AF_INET6, _ROUTE_PROBE_V6)):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 53))
                address = str(sock.getsockname()[0])
        except OSError as e:
            errors.append(f"{probe}: {e}")
            continue
        logger.debug("Address by route (towards %s): %s", probe, address)
        return address
    raise OSError("no route to a public address from this host: " + "; ".join(errors))


def address_by_query(timeout: float = 30, *, url: str = _PUBLIC_IP_SERVICE) -> str:
    """Return this host's public IP address as seen by an external web service.

    Useful when the workers run in a cloud and connect back over the internet. ``url`` must
    answer with the address as plain text. The whole query, name resolution included,
    takes at most about ``timeout`` seconds: without internet access it raises ``OSError``
    saying which service could not be reached and why. Raises ``ValueError`` when the
    answer is not an IP address.
    """
    logger.debug("Querying %s for the public address (timeout %s s)", url, timeout)
    outcome: List[Union[bytes, BaseException]] = []

    def query() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                outcome.append(response.read(256))
        except BaseException as e:  # handed to the waiting caller below
            outcome.append(e)

    # urlopen's timeout does not cover resolving the service's name, which can take far
    # longer on a host without network; a helper thread bounds the whole query.
    worker = threading.Thread(target=query, name="address_by_query", daemon=True)
    worker.start()
    worker.join(timeout + 1)
    if not outcome:
        raise TimeoutError(f"address_by_query: no answer from {url} within {timeout} s")
    result = outcome[0]
    if isinstance(result, BaseException):
        reason = getattr(result, "reason", result)
        raise OSError(f"address_by_query: cannot reach {url}: {reason}") from result
    text = result.decode("ascii", errors="replace").strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"address_by_query: {url} answered {text[:80]!r}, which is not an "
                         "IP address") from None
    logger.debug("Address by query: %s", text)
    return text


def address_by_hostname() -> str:
    """Return this host's name, for sites where node names resolve across the cluster."""
    name = socket.gethostname()
    logger.debug("Address by hostname: %s", name)
    return name


class InterfaceAddressError(OSError, ValueError):
    """A network interface does not exist or has no usable address.

    An ``OSError``, as Parsl raises (its ``ioctl`` fails), and a ``ValueError``, since the
    argument is what is wrong.
    """


def _interface_addresses(ifname: str) -> List[str]:
    """Usable addresses of interface ``ifname``: IPv4 first, then IPv6 without link-local
    ones (they need a scope id and only reach the local link)."""
    interfaces = psutil.net_if_addrs()
    if ifname not in interfaces:
        raise InterfaceAddressError(
            f"network interface {ifname!r} does not exist on {socket.gethostname()}; "
            f"interfaces: {', '.join(sorted(interfaces))}")
    v4 = [str(a.address) for a in interfaces[ifname] if a.family == socket.AF_INET]
    v6 = [str(a.address) for a in interfaces[ifname] if a.family == socket.AF_INET6
          and not ipaddress.ip_address(a.address.split("%", 1)[0]).is_link_local]
    return v4 + v6


def address_by_interface(ifname: str) -> str:
    """Return the address of the network interface ``ifname`` (e.g. ``"ib0"``): its IPv4
    address, or its IPv6 address when it has no IPv4 one.

    Raises :class:`InterfaceAddressError` (an ``OSError`` and a ``ValueError``) naming the
    interfaces that exist when ``ifname`` does not, or has no usable address.
    """
    addresses = _interface_addresses(ifname)
    if not addresses:
        raise InterfaceAddressError(f"network interface {ifname!r} has no IPv4 or "
                                    "non-link-local IPv6 address")
    logger.debug("Address of interface %s: %s", ifname, addresses[0])
    return addresses[0]


def get_all_addresses(query_timeout: float = 2) -> Set[str]:
    """Return every candidate address of this host; a finder that fails is skipped.

    Includes every IPv4 and (non-link-local) IPv6 address of every interface, the
    hostname, the routed address and, if the internet is reachable within
    ``query_timeout`` seconds, the public address. Executors pass the whole set to
    workers, which connect to whichever answers first.
    """
    found: Set[str] = set()
    for ifname in psutil.net_if_addrs():
        found.update(_interface_addresses(ifname))

    finders: List[Callable[[], str]] = [
        address_by_hostname,
        address_by_route,
        lambda: address_by_query(timeout=query_timeout),
    ]
    for finder in finders:
        try:
            found.add(finder())
        except (OSError, ValueError) as e:
            logger.debug("An address finder failed and is skipped: %s", e)
    return found


def get_any_address() -> str:
    """Return one address of this host that is not a loopback address.

    Tries the routed address first, then any interface address. Raises ``OSError`` when
    the host has only loopback addresses, since such an address is useless to workers on
    other nodes.
    """
    candidates: List[str] = []
    try:
        candidates.append(address_by_route())
    except OSError as e:
        logger.debug("No routed address: %s", e)
    for ifname in psutil.net_if_addrs():
        try:
            candidates.append(address_by_interface(ifname))
        except ValueError as e:
            logger.debug("Skipping interface %s: %s", ifname, e)
    for address in candidates:
        if not ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
            return address
    raise OSError(f"{socket.gethostname()} has no non-loopback address; candidates were "
                  f"{candidates}")


def tcp_url(address: str, port: Union[str, int, None] = None) -> str:
    """Return a ZeroMQ-style ``tcp://`` URL for ``address`` and optional ``port``.

    As in Parsl, an IPv6 literal is bracketed only when a port follows
    (``tcp://[::1]:55000``, but ``tcp://::1``): ZeroMQ's ``bind_to_random_port`` appends
    ``:port`` to the bare form and parses it from the last colon. ``"*"`` stays the
    bind-everything wildcard; host names pass through unchanged (Parsl refuses them).
    """
    suffix = f":{port}" if port else ""
    if address == "*":
        return f"tcp://*{suffix}"
    host = address
    if address.startswith("[") and address.endswith("]"):
        host = address[1:-1]
    if suffix and _is_ipv6(host):
        return f"tcp://[{host}]{suffix}"
    return f"tcp://{host}{suffix}"


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False
