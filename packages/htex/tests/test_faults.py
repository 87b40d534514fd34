"""Faults become errors, never hangs: tests that kill, freeze and confuse real processes."""
from __future__ import annotations

import json
import os
import signal
import socket
import sys

import pytest
from htex_support import TcpPeer, manager_process, process_gone, wait_for, worker_processes
from htex_test_tasks import add, exit_worker, kill_own_worker, sleep_then_return, worker_pid

from parsl_htex import _protocol as P
from parsl_htex.errors import InterchangeLost, ManagerLost, WorkerLost
from parsl_htex.executor import DEFAULT_LAUNCH_CMD
from parsl_htex.interchange import python_version
from parsl_htex.version import VERSION

pytestmark = pytest.mark.slow


def test_killed_worker_fails_its_task_with_worker_lost_and_is_replaced(make_htex):
    ex = make_htex()
    before = {f.result(timeout=60) for f in [ex.submit(worker_pid, {}) for _ in range(10)]}
    with pytest.raises(WorkerLost) as info:
        ex.submit(kill_own_worker, {}).result(timeout=60)
    assert info.value.hostname and ":" in info.value.worker_id
    assert "killed by signal 9" in str(info.value)
    worker_processes(ex, 2)
    after = {f.result(timeout=60) for f in [ex.submit(worker_pid, {}) for _ in range(20)]}
    assert after - before, "a replacement worker should have served tasks"


def test_sys_exit_in_a_task_ends_its_worker_with_worker_lost_naming_the_code(make_htex):
    """As in Parsl: sys.exit() ends the worker process; the task fails with WorkerLost
    carrying the exit code, and a new worker serves the next tasks."""
    ex = make_htex()
    with pytest.raises(WorkerLost) as info:
        ex.submit(exit_worker, {}, 3).result(timeout=60)
    assert "exited with code 3" in str(info.value)
    worker_processes(ex, 2)
    assert ex.submit(add, {}, 2, 2).result(timeout=60) == 4


def test_killed_manager_fails_its_tasks_with_manager_lost(make_htex):
    ex = make_htex()
    manager = manager_process(ex)
    fut = ex.submit(sleep_then_return, {}, 60)
    wait_for(lambda: any(m["tasks"] for m in ex.connected_managers()), what="task dispatch")
    manager.kill()
    # The closed connection tells at once (plain TCP and TLS alike), not the heartbeats.
    with pytest.raises(ManagerLost, match="connection to the interchange closed"):
        fut.result(timeout=30)


def test_frozen_manager_is_declared_lost_and_its_late_messages_ignored(make_htex):
    ex = make_htex()
    manager = manager_process(ex)
    fut = ex.submit(sleep_then_return, {}, 1, "late")
    wait_for(lambda: any(m["tasks"] for m in ex.connected_managers()), what="task dispatch")
    manager.suspend()
    try:
        with pytest.raises(ManagerLost):
            fut.result(timeout=30)
        assert ex.connected_managers() == []
    finally:
        manager.resume()
    wait_for(lambda: process_gone(manager),
             timeout=20, what="the thawed manager to be stopped")
    assert fut.exception() is not None


def test_killed_interchange_fails_outstanding_tasks_and_later_submits(make_htex):
    ex = make_htex()
    manager_process(ex)
    fut = ex.submit(sleep_then_return, {}, 60)
    ex.interchange_proc.kill()
    with pytest.raises(InterchangeLost, match="exited"):
        fut.result(timeout=10)
    with pytest.raises(InterchangeLost):
        ex.submit(add, {}, 1, 2)


def test_unreachable_address_fails_the_block_with_the_reason(make_htex):
    # 192.0.2.1 is no address of this host: the manager is told to connect there.
    ex = make_htex(launch_cmd=DEFAULT_LAUNCH_CMD.replace("{addresses}", "192.0.2.1"),
                   address_probe_timeout=1)
    fut = ex.submit(add, {}, 1, 2)

    def failed() -> bool:
        ex.poll_facade()
        return ex.bad_state_is_set

    wait_for(failed, timeout=40, what="the block to be reported failed")
    with pytest.raises(Exception, match="could not reach the interchange"):
        fut.result(timeout=5)


def test_version_mismatch_is_refused_in_both_logs_and_fails_the_block(make_htex):
    patched = (f"{sys.executable} -c 'import sys, parsl_htex.version as v; v.VERSION = \"0.0.1\"; "
               "from parsl_htex.process_worker_pool import main; sys.exit(main())' ")
    cmd = DEFAULT_LAUNCH_CMD.replace("{process_worker_pool}", patched)
    ex = make_htex(launch_cmd=cmd)

    def failed() -> bool:
        ex.poll_facade()
        return ex.bad_state_is_set

    wait_for(failed, timeout=40, what="the block to be reported failed")
    assert "version mismatch" in str(ex.executor_exception)
    log = open(os.path.join(ex.run_dir, "htex", "interchange.log")).read()
    assert "version mismatch" in log and "parsl-htex 0.0.1" in log
    manager_logs = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(ex.run_dir, "htex"))
                    for f in fs if f == "manager.log"]
    assert any("version mismatch" in open(p).read() for p in manager_logs)


def test_garbage_on_every_port_is_dropped_and_the_executor_keeps_working(make_htex):
    ex = make_htex(encrypted=False)
    assert ex.submit(add, {}, 1, 1).result(timeout=60) == 2
    ports = [ex.worker_task_port, ex.worker_result_port]
    rng = __import__("random").Random(4)
    for port in ports:
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 512))))
    for port in ports:
        peer = TcpPeer(port, b"garbage")
        try:
            for _ in range(50):
                peer.send(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))))
            peer.send(P.RESULTS + b"\x00" * 16 + b"\x00junk")
            peer.send(P.REG + b"{not json")
            peer.send(P.REG + json.dumps([1, 2]).encode())
        finally:
            peer.close()
    futures = [ex.submit(add, {}, i, 1) for i in range(100)]
    assert [f.result(timeout=60) for f in futures] == [i + 1 for i in range(100)]
    log = open(os.path.join(ex.run_dir, "htex", "interchange.log")).read()
    assert "Dropped" in log


def test_hostile_registered_manager_cannot_break_the_interchange(make_htex):
    """A peer that registers properly (encryption off) and then sends task and result
    batches whose records lie about their lengths, results for tasks it was never given,
    and unknown tags: each is logged and dropped, and real managers keep being served."""
    ex = make_htex(encrypted=False, scale_out=False)
    reg = json.dumps({"manager_id": "rogue", "block_id": "rogue", "hostname": "rogue",
                      "worker_count": 1, "python": python_version(),
                      "htex_version": VERSION}).encode()
    tasks = TcpPeer(ex.worker_task_port, b"rogue")
    results = TcpPeer(ex.worker_result_port, b"rogue")
    try:
        tasks.send(P.REG + reg)
        assert tasks.recv()[:1] == P.OK
        header = P.RESULT_HEADER
        bad = [
            P.RESULTS + header.pack(1, 1, 0, 2**32 - 1) + b"short",   # length past the end
            P.RESULTS + header.pack(1, 1, 0, 3)[:10],                 # truncated header
            P.RESULTS + header.pack(10**9, 5, 0, 4) + b"fake",        # task it never got
            P.TASKS + P.task_header(1, 1, 4) + b"task",               # wrong direction
            b"\xff" * 40,
            b"",
        ]
        for message in bad:
            results.send(message)
            tasks.send(message)
        tasks.send(P.HB + b"0")
        results.send(P.BYE)  # leave cleanly, so no real task is sent to this peer
        wait_for(lambda: not ex.connected_managers(), what="the rogue manager to be gone")
    finally:
        tasks.close()
        results.close()
    ex.scale_out_facade(1)
    futures = [ex.submit(add, {}, i, 1) for i in range(50)]
    assert [f.result(timeout=60) for f in futures] == [i + 1 for i in range(50)]
    log = open(os.path.join(ex.run_dir, "htex", "interchange.log")).read()
    assert "runs past the message end" in log
    assert "truncated result record header" in log
    assert "a result for a task manager" in log


def test_manager_exits_when_the_interchange_is_gone(make_htex):
    ex = make_htex()
    manager = manager_process(ex)
    os.kill(ex.interchange_proc.pid, signal.SIGKILL)
    wait_for(lambda: process_gone(manager), timeout=20,
             what="the manager to exit after missing heartbeats (or at once, seeing EOF)")


def test_stop_signal_after_the_task_loop_does_not_cut_shutdown_short(monkeypatch):
    """The block's cancel sends SIGTERM to the whole group right as the interchange stops
    the manager: a SIGTERM after the loop must not raise (it could interrupt shutdown
    before the workers, which die with the manager, have written their last records);
    before the loop it still ends the manager at once."""
    from parsl_htex import process_worker_pool as pool

    monkeypatch.setattr(pool, "_running", None)
    monkeypatch.setattr(pool, "_stop_signal", None)
    monkeypatch.setattr(pool, "_past_loop", True)
    pool._on_stop_signal(15, None)
    assert pool._stop_signal == 15
    monkeypatch.setattr(pool, "_past_loop", False)
    with pytest.raises(SystemExit):
        pool._on_stop_signal(15, None)
