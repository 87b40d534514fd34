"""Every address family and every way of naming an address works end to end, and an
address, port or host name the executor cannot use fails it at start, naming the culprit.

All of these run a real interchange, a real LocalProvider block with a real manager and
workers, over real IPv4 or IPv6 loopback TCP, with each manager transport.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Iterator, List

import pytest
from htex_support import wait_for
from htex_test_tasks import add

from parsl.executors.errors import ExecutorError
from parsl_htex.executor import DEFAULT_LAUNCH_CMD

pytestmark = pytest.mark.slow


@pytest.fixture(params=[False, True], ids=["plain-tcp", "tls"])
def make_htex(request, make_htex):
    """Every test with both: plain TCP (encrypted=False) and TLS (encrypted=True)."""
    def factory(**kwargs):
        kwargs.setdefault("encrypted", request.param)
        return make_htex(**kwargs)
    return factory

#: Generous bound on failing at start on a loaded machine (the point is: not a hang).
FAIL_FAST = 30.0


def manager_log(ex) -> str:
    logs = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(ex.run_dir, "htex"))
            for f in fs if f == "manager.log"]
    return "".join(open(p).read() for p in logs)


def test_ipv4_loopback_runs_tasks(make_htex):
    ex = make_htex(loopback_address="127.0.0.1", address="127.0.0.1")
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5
    assert "Interchange reachable at 127.0.0.1" in manager_log(ex)


def test_ipv6_loopback_runs_tasks(make_htex):
    ex = make_htex(loopback_address="::1", address="::1")
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5
    assert "Interchange reachable at ::1" in manager_log(ex)


def test_ipv6_loopback_address_with_default_worker_addresses_runs_tasks(make_htex):
    """The setting of Parsl's own local HTEX test configuration: only loopback_address."""
    ex = make_htex(loopback_address="::1", address=None)
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5


def test_default_worker_addresses_offer_both_families(make_htex):
    ex = make_htex(address=None, scale_out=False)
    offered = ex.all_addresses.split(",")
    assert "127.0.0.1" in offered and "::1" in offered
    assert offered[0] == "127.0.0.1", "loopback first: a local block needs no network"


def test_manager_reaches_default_interchange_over_ipv6_only(make_htex):
    """With no ``address`` the interchange listens on both families."""
    ex = make_htex(address=None, launch_cmd=DEFAULT_LAUNCH_CMD.replace("{addresses}", "::1"))
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5
    assert "Interchange reachable at ::1" in manager_log(ex)


def test_manager_skips_candidates_that_do_not_answer(make_htex):
    """Candidates are probed together: dead ones (no host, nothing listening) do not stop
    the manager from using the one that answers."""
    addresses = "192.0.2.1,no-such-host.invalid,::1,127.0.0.1"
    ex = make_htex(address="127.0.0.1", address_probe_timeout=20,
                   launch_cmd=DEFAULT_LAUNCH_CMD.replace("{addresses}", addresses))
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5
    assert "Interchange reachable at 127.0.0.1" in manager_log(ex)


def test_localhost_by_name_runs_tasks(make_htex):
    ex = make_htex(loopback_address="localhost", address="localhost")
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5


def test_machine_host_name_runs_tasks(make_htex):
    ex = make_htex(address=socket.gethostname())
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5


def test_host_name_resolving_to_ipv6_runs_tasks(make_htex, monkeypatch):
    """No name resolves only to ::1 on this machine and /etc/hosts is shared, so the
    submit process's resolver maps one name to ::1; the interchange then listens on ::1
    only and the manager is given (and reaches) that address."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        return real("::1" if host == "login-v6.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    ex = make_htex(address="login-v6.example")
    assert ex.all_addresses == "::1"
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5
    assert "Interchange reachable at ::1" in manager_log(ex)


def test_network_interface_name_as_address_runs_tasks(make_htex):
    import psutil

    loopback = next(name for name, addrs in psutil.net_if_addrs().items()
                    if any(a.address == "127.0.0.1" for a in addrs))
    ex = make_htex(address=loopback)
    assert "127.0.0.1" in ex.all_addresses.split(",")
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5


def start_should_fail(make_htex, **kwargs) -> str:
    started = time.monotonic()
    with pytest.raises(ExecutorError) as info:
        make_htex(scale_out=False, **kwargs)
    assert time.monotonic() - started < FAIL_FAST
    return str(info.value)


def test_address_of_another_host_fails_start_naming_it(make_htex):
    message = start_should_fail(make_htex, address="192.0.2.99")
    assert "192.0.2.99" in message and "not an address of this host" in message
    assert "127.0.0.1" in message, "the message lists the addresses this host has"


def test_unresolvable_host_name_fails_start_naming_it(make_htex):
    message = start_should_fail(make_htex, address="no-such-host.invalid")
    assert "address='no-such-host.invalid'" in message and "does not resolve" in message


def test_wrong_loopback_address_fails_start_naming_it(make_htex):
    message = start_should_fail(make_htex, loopback_address="192.0.2.99")
    assert "192.0.2.99" in message and "loopback_address" in message


@pytest.fixture
def busy_ports() -> Iterator[List[int]]:
    """Two TCP ports held by listening sockets of this test (on every IPv4 address)."""
    socks = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        s.listen()
        socks.append(s)
    yield [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()


def test_the_same_port_twice_in_worker_ports_is_refused_at_construction():
    from parsl.errors import BadParameter
    from parsl_htex.executor import HighThroughputExecutor

    with pytest.raises(BadParameter, match="worker_ports"):
        HighThroughputExecutor(worker_ports=(54321, 54321))


def test_worker_port_in_use_fails_start_naming_port_and_parameter(make_htex, busy_ports):
    message = start_should_fail(make_htex, worker_ports=tuple(busy_ports))
    assert f":{busy_ports[0]}" in message and "worker_ports" in message
    assert "used by another process" in message


def free_port_pair() -> int:
    """A port that is free, and whose successor is free too (as far as can be told)."""
    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("0.0.0.0", 0))
            port = a.getsockname()[1]
            try:
                b.bind(("0.0.0.0", port + 1))
            except OSError:
                continue
            return int(port)
    raise AssertionError("no two consecutive free ports")


def test_parsl_worker_port_is_where_managers_connect(make_htex):
    port = free_port_pair()
    ex = make_htex(worker_port=port)
    assert (ex.worker_task_port, ex.worker_result_port) == (port, port + 1)
    assert ex.submit(add, {}, 2, 3).result(timeout=60) == 5


def test_worker_port_in_use_fails_start_naming_worker_port(make_htex, busy_ports):
    message = start_should_fail(make_htex, worker_port=busy_ports[0])
    assert f":{busy_ports[0]}" in message and "worker_port)" in message


def test_interchange_port_range_without_free_port_fails_start(make_htex, busy_ports):
    port = busy_ports[0]
    message = start_should_fail(make_htex, interchange_port_range=(port, port + 1))
    assert f"interchange_port_range=({port}, {port + 1})" in message


def test_manager_reaching_no_candidate_fails_the_block_naming_each(make_htex):
    addresses = "192.0.2.1,::1"
    ex = make_htex(address="127.0.0.1", address_probe_timeout=2,
                   launch_cmd=DEFAULT_LAUNCH_CMD.replace("{addresses}", addresses))
    fut = ex.submit(add, {}, 1, 2)

    def failed() -> bool:
        ex.poll_facade()
        return ex.bad_state_is_set

    wait_for(failed, timeout=60, what="the block to be reported failed")
    message = str(ex.executor_exception)
    assert "could not reach the interchange" in message
    assert "192.0.2.1:" in message and "::1:" in message
    with pytest.raises(Exception, match="could not reach the interchange"):
        fut.result(timeout=5)

