"""More messages waiting on the interchange's result port than one drain takes.

Encrypted, the interchange polls its ZeroMQ result port by descriptor, which announces
nothing more until the port has been found empty, so a drain that stops at its limit
(DRAIN_BATCH messages) must bring the interchange back for the rest by itself; without
encryption the messages wait in a TCP connection, many to one read. A peer on the worker
ports (a TcpPeer, as in test_manager_messages) queues many more result messages than that
while the interchange is stopped (SIGSTOP), and no other message follows them.
"""
from __future__ import annotations

import os
import pickle
import signal
from typing import List

import pytest
from htex_support import wait_for
from htex_test_tasks import add
from test_manager_messages import _rogue_manager

from parsl_htex import _protocol as P
from parsl_htex._zmq import DRAIN_BATCH

pytestmark = pytest.mark.slow

MESSAGES = 3 * DRAIN_BATCH


def test_results_queued_beyond_one_drain_all_reach_the_executor(make_htex):
    ex = make_htex(encrypted=False)
    received: List[bytes] = []
    ex.monitoring_message_handler = received.append
    assert ex.submit(add, {}, 1, 1).result(timeout=60) == 2
    tasks, results = _rogue_manager(ex)
    try:
        events = [pickle.dumps([["event", i]], protocol=4) for i in range(MESSAGES)]
        os.kill(ex.interchange_proc.pid, signal.SIGSTOP)
        try:
            for payload in events:
                results.send(P.RESULTS + P.result_record(P.MONITORING_KEY, P.MONITORING,
                                                         payload))
        finally:
            os.kill(ex.interchange_proc.pid, signal.SIGCONT)
        wait_for(lambda: len(received) == MESSAGES, timeout=60,
                 what=f"all {MESSAGES} queued result messages to reach the executor")
        results.send(P.BYE)
    finally:
        tasks.close()
        results.close()
    assert received == events
    futures = [ex.submit(add, {}, i, 1) for i in range(20)]
    assert [f.result(timeout=60) for f in futures] == [i + 1 for i in range(20)]
