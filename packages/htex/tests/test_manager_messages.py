"""With encryption off, every field of every manager message is checked by the interchange.

A peer on the worker ports (here a TcpPeer of the test, next to a real manager with real
workers) sends registrations and other messages with one field wrong at a time; each
is refused or dropped with the sender logged, and the real manager keeps running tasks.
"""
from __future__ import annotations

import itertools
import json
import os
import pickle
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from htex_support import TcpPeer, wait_for
from htex_test_tasks import add

from parsl_htex import _protocol as P
from parsl_htex._messages import REGISTRATION_FIELDS
from parsl_htex.interchange import python_version
from parsl_htex.version import VERSION

pytestmark = pytest.mark.slow

_ids = itertools.count()


def _valid_registration() -> Dict[str, Any]:
    return {"manager_id": "fuzz", "block_id": "fuzz", "hostname": "fuzz", "pid": 1,
            "worker_count": 1, "prefetch_capacity": 0, "python": python_version(),
            "python_full": python_version() + ".0", "htex_version": VERSION,
            "cpu_count": 2, "accelerators": [], "total_memory": 2**30, "os": "Linux"}


def _bad_registrations() -> Iterator[Tuple[str, Dict[str, Any]]]:
    """One registration per wrong value of each field: wrong types, out of bounds, and
    missing where required."""
    wrong_types: List[Any] = ["many", 1.5, None, True, [], {}]
    for field, (kind, required, low, high) in REGISTRATION_FIELDS.items():
        wrong: List[Any] = [v for v in wrong_types
                            if isinstance(v, bool) or not isinstance(v, kind)]
        if kind is int:
            wrong += [low - 1, high + 1]
        elif kind is str:
            wrong.append("x" * (high + 1))
        for value in wrong:
            yield field, {**_valid_registration(), field: value}
        if required:
            info = _valid_registration()
            del info[field]
            yield field, info
    yield "accelerators", {**_valid_registration(), "accelerators": [1, 2]}


def _rogue(port: int) -> TcpPeer:
    return TcpPeer(port, f"rogue-{next(_ids)}".encode())


def _rogue_manager(ex) -> Tuple[TcpPeer, TcpPeer]:
    """The task and result connections of a fake manager, registered."""
    identity = f"rogue-{next(_ids)}".encode()
    tasks = TcpPeer(ex.worker_task_port, identity)
    results = TcpPeer(ex.worker_result_port, identity)
    tasks.send(P.REG + json.dumps(_valid_registration()).encode())
    assert tasks.recv()[:1] == P.OK
    return tasks, results


def _interchange_log(ex) -> str:
    with open(os.path.join(ex.run_dir, "htex", "interchange.log")) as f:
        return f.read()


def test_registration_with_any_bad_field_is_refused_naming_the_field(make_htex):
    ex = make_htex(encrypted=False)
    assert ex.submit(add, {}, 1, 1).result(timeout=60) == 2
    for field, info in _bad_registrations():
        sock = _rogue(ex.worker_task_port)
        try:
            sock.send(P.REG + json.dumps(info).encode())
            reply = sock.recv()
            assert reply[:1] == P.NO, (field, info.get(field), reply[:200])
            assert field in json.loads(reply[1:])["reason"]
        finally:
            sock.close()
    assert all(m["block_id"] != "fuzz" for m in ex.connected_managers())
    futures = [ex.submit(add, {}, i, 1) for i in range(50)]
    assert [f.result(timeout=60) for f in futures] == [i + 1 for i in range(50)]
    assert "Dropped the registration of b'rogue-" in _interchange_log(ex)


def test_bad_heartbeats_drains_goodbyes_and_result_tags_are_dropped(make_htex):
    ex = make_htex(encrypted=False)
    assert ex.submit(add, {}, 1, 1).result(timeout=60) == 2
    tasks, results = _rogue_manager(ex)
    try:
        for body in (b"many", b"-1", b"9" * 100, b"\x00\xff"):
            tasks.send(P.HB + body)
        tasks.send(P.DRAIN + b"now")
        tasks.send(P.BYE + b"later")
        results.send(P.BYE + b"later")
        results.send(P.RESULTS + P.result_record(P.make_key(10**6, 1), 99, b"payload"))
        # The two connections are read independently: wait for what each sent.
        expected = ("unknown tag 99", "is not a count of finished tasks", "unexpected bytes")
        wait_for(lambda: all(text in _interchange_log(ex) for text in expected),
                 what="the bad heartbeats, drain, goodbye and result to be dropped")
        rogue = [m for m in ex.connected_managers() if m["block_id"] == "fuzz"]
        assert rogue and not rogue[0]["draining"], "a DRAIN with junk must not drain"
        results.send(P.BYE)
        wait_for(lambda: all(m["block_id"] != "fuzz" for m in ex.connected_managers()),
                 what="the rogue manager to leave")
    finally:
        tasks.close()
        results.close()
    futures = [ex.submit(add, {}, i, 1) for i in range(50)]
    assert [f.result(timeout=60) for f in futures] == [i + 1 for i in range(50)]


def test_monitoring_records_are_checked_and_good_ones_reach_the_handler(make_htex):
    """A monitoring record (see _protocol.MONITORING) must carry the monitoring key and a
    pickled batch; others are dropped and logged, good ones are handed to the executor's
    monitoring_message_handler, undecoded, with nothing else disturbed."""
    ex = make_htex(encrypted=False)
    received: List[bytes] = []
    ex.monitoring_message_handler = received.append
    assert ex.submit(add, {}, 1, 1).result(timeout=60) == 2
    good = pickle.dumps([["running", 1, 1, 0.0, "host", "0", "w"]], protocol=4)
    tasks, results = _rogue_manager(ex)
    try:
        for key, payload in ((P.make_key(7, 7), good), (P.MONITORING_KEY, b"not a pickle"),
                             (P.MONITORING_KEY, b'{"running": 1}')):
            results.send(P.RESULTS + P.result_record(key, P.MONITORING, payload))
        results.send(P.RESULTS + P.result_record(P.MONITORING_KEY, P.MONITORING, good))
        wait_for(lambda: received, what="the good monitoring record to reach the executor")
        wait_for(lambda: _interchange_log(ex).count("is not a pickled batch") >= 2,
                 what="the bad monitoring records to be logged")
        assert "must carry the monitoring key" in _interchange_log(ex)
        results.send(P.BYE)
    finally:
        tasks.close()
        results.close()
    assert received == [good]
    futures = [ex.submit(add, {}, i, 1) for i in range(20)]
    assert [f.result(timeout=60) for f in futures] == [i + 1 for i in range(20)]
