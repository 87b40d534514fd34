"""Nothing is lost, and what cannot be delivered is counted: locked SQLite files, events in
any order, UDP batches larger than a datagram, forged datagrams, a database that dies."""
from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from types import SimpleNamespace
from typing import Any, Dict, List, Tuple

import monitoring_test_tasks as tasks
import pytest
from monitoring_support import PostgresServer, query, query_when_ready, threads_config, wait_for

import parsl
from parsl.app.app import python_app
from parsl_monitoring import writer as W
from parsl_monitoring.batches import encode_batch
from parsl_monitoring.hub import MonitoringHub
from parsl_monitoring.radios import UDPRadio, make_sender

sleepy = python_app(tasks.sleepy)


def _hold_lock(path: str, statement: str, seconds: float, locked: threading.Event) -> None:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute(statement)
    conn.execute("SELECT count(*) FROM status").fetchone()
    locked.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("statement", ["BEGIN", "BEGIN IMMEDIATE"],
                         ids=["reader", "writer"])
def test_sqlite_locked_by_another_connection_for_10s_loses_nothing(tmp_path: Any,
                                                                   statement: str) -> None:
    url = f"sqlite:///{tmp_path}/monitoring.db"
    with parsl.load(threads_config(str(tmp_path / "runinfo"), url)) as dfk:
        sleepy(0).result()
        wait_for(lambda: query_when_ready(url, "SELECT 1 FROM status"), what="the first rows")
        locked = threading.Event()
        holder = threading.Thread(target=_hold_lock, args=(f"{tmp_path}/monitoring.db",
                                                           statement, 10, locked))
        holder.start()
        assert locked.wait(30)
        futures = [sleepy(0) for _ in range(200)]
        for f in futures:
            f.result()
        holder.join(60)
        run_id = dfk.run_id
    assert query(url, "SELECT count(*) AS n FROM task WHERE run_id = :r",
                 r=run_id)[0]["n"] == 201
    assert query(url, "SELECT count(*) AS n FROM status WHERE run_id = :r",
                 r=run_id)[0]["n"] == 201 * 5  # pending launched running running_ended exec_done
    assert query(url, "SELECT journal_mode AS m FROM pragma_journal_mode")[0]["m"] == "wal"


def test_writer_keeps_rows_while_the_file_stays_locked_past_its_busy_timeout(
        tmp_path: Any) -> None:
    path = f"{tmp_path}/monitoring.db"
    writer = W.DatabaseWriter(f"sqlite:///{path}", "run-1", flush_period=0.05,
                              busy_timeout=0.2, retry_timeout=30)
    writer.start()
    writer.put((W.WORKFLOW, {"workflow_name": "w", "time_began": time.time()}))
    assert writer.sync(30)
    locked = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, "BEGIN IMMEDIATE", 4, locked))
    holder.start()
    assert locked.wait(30)
    for i in range(500):
        writer.put((W.STATUS, i, 0, "pending", time.time()))
    wait_for(lambda: writer.error is not None and "locked" in writer.error, timeout=3.5,
             what="the writer to hit the lock")
    holder.join(30)
    assert writer.sync(30)
    writer.stop(30)
    assert writer.lost == 0
    assert query(f"sqlite:///{path}", "SELECT count(*) AS n FROM status")[0]["n"] == 500


def test_rows_beyond_the_pending_row_cap_are_dropped_and_counted(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the file is locked rows pile up in memory; past the cap the newest are
    dropped, each counted with its reason, and the rest are written once it unlocks."""
    monkeypatch.setattr(W, "MAX_PENDING_ROWS", 100)
    path = f"{tmp_path}/monitoring.db"
    writer = W.DatabaseWriter(f"sqlite:///{path}", "run-cap", flush_period=0.05,
                              busy_timeout=0.2, retry_timeout=30)
    writer.start()
    writer.put((W.WORKFLOW, {"workflow_name": "w", "time_began": time.time()}))
    assert writer.sync(30)
    locked = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, "BEGIN IMMEDIATE", 3, locked))
    holder.start()
    assert locked.wait(30)
    writer.put((W.BATCH, [(W.STATUS, i, 0, "pending", time.time()) for i in range(150)]))
    holder.join(30)
    assert writer.sync(30)
    writer.stop(30)
    assert writer.lost == 50
    assert writer.lost_reasons == {
        "status row dropped: database unreachable, buffer full": 50}
    assert query(f"sqlite:///{path}", "SELECT count(*) AS n FROM status")[0]["n"] == 100


def test_writer_merges_try_fields_arriving_in_any_order(db_url: str) -> None:
    writer = W.DatabaseWriter(db_url, "run-2", flush_period=0.05)
    writer.start()
    now = time.time()
    writer.put((W.TRY, 3, 0, {"task_try_time_running": now + 1, "hostname": "h"}))
    assert writer.sync(30)  # the worker's half is written first...
    writer.put((W.TRY, 3, 0, {"task_executor": "htex", "task_try_time_launched": now}))
    writer.put((W.TRY, 3, 0, {"task_try_time_returned": now + 2}))
    writer.stop(30)  # ...then the DFK's half updates the same row
    rows = query(db_url, "SELECT * FROM try WHERE run_id = 'run-2'")
    assert len(rows) == 1
    row = rows[0]
    assert row["hostname"] == "h" and row["task_executor"] == "htex"
    assert None not in (row["task_try_time_launched"], row["task_try_time_running"],
                        row["task_try_time_returned"])


def _fake_dfk(tmp_path: Any) -> Any:
    """The few DFK attributes the hub reads (a stand-in: no executors are involved)."""
    import datetime

    from parsl.dataflow.states import States

    return SimpleNamespace(run_id="run-3", run_dir=str(tmp_path / "runinfo" / "000"),
                           time_began=datetime.datetime.now(), log_handler=None,
                           task_state_counts={s: 0 for s in States})


def test_a_workers_running_event_before_the_dfks_launch_is_kept(tmp_path: Any,
                                                                db_url: str) -> None:
    hub = MonitoringHub(logging_endpoint=db_url, flush_period=0.05)
    dfk = _fake_dfk(tmp_path)
    hub.parsl_dfk_start(dfk)
    t = time.time()
    hub._on_worker_batch("htex", [["running", 41, 7, t, "node1", "0", "m-0"]])
    record = SimpleNamespace(id=7, executor="htex", try_time_launched=t - 0.01,
                             try_time_returned=t + 1,
                             exec_fu=SimpleNamespace(parsl_executor_task_id=41))
    hub.parsl_task_try_launched(dfk, record, 0, "htex")
    hub._on_worker_batch("htex", [["ended", 41, 7, t + 0.5, True]])
    hub.parsl_task_try_finished(dfk, record, 0, None)
    hub.parsl_dfk_cleanup(dfk)
    hub.parsl_dfk_executors_shutdown(dfk)
    statuses = [r["task_status_name"] for r in query(
        db_url, "SELECT task_status_name FROM status WHERE run_id = 'run-3' ORDER BY timestamp")]
    assert statuses == ["running", "running_ended"]
    row = query(db_url, "SELECT * FROM try WHERE run_id = 'run-3'")[0]
    assert row["hostname"] == "node1" and row["task_try_time_running"] is not None
    assert query(db_url, "SELECT messages_lost FROM workflow")[0]["messages_lost"] == 0


def _udp_receiver() -> Tuple[Any, List[Tuple[str, Any]], List[Tuple[int, str]]]:
    batches: List[Tuple[str, Any]] = []
    losses: List[Tuple[int, str]] = []
    receiver = UDPRadio(address="127.0.0.1").start_receiver(
        "htex", ".", lambda label, msgs: batches.append((label, msgs)),
        lambda n, why: losses.append((n, why)))
    return receiver, batches, losses


def test_udp_batch_larger_than_a_datagram_arrives_whole() -> None:
    receiver, batches, losses = _udp_receiver()
    try:
        big: List[List[Any]] = [["resource", i, i, {"blob": f"{i}" + "x" * 1000}]
                                for i in range(300)]
        payload = encode_batch(big)
        assert len(payload) > 2 * 65_536  # three datagrams at least
        make_sender(receiver.worker_config).send(payload)
        wait_for(lambda: batches, what="the reassembled batch")
    finally:
        receiver.stop()
    assert batches == [("htex", big)]
    assert losses == []


def test_udp_datagram_with_a_wrong_signature_is_counted_lost() -> None:
    receiver, batches, losses = _udp_receiver()
    try:
        forged: Dict[str, Any] = dict(receiver.worker_config, key="00" * 32)
        make_sender(forged).send(b'[["running", 1, 1, 0, "h", "0", "w"]]')
        wait_for(lambda: losses, what="the loss to be counted")
    finally:
        receiver.stop()
    assert batches == []
    assert losses == [(1, "UDP datagram with a bad signature")]


@pytest.mark.slow
def test_run_finishes_and_reports_loss_when_the_database_server_dies(tmp_path: Any) -> None:
    server = PostgresServer()
    try:
        url = server.new_database()
        config = threads_config(str(tmp_path / "runinfo"), url)
        config.monitoring.database_retry_timeout = 3
        dfk = parsl.load(config)
        sleepy(0).result()
        wait_for(lambda: query_when_ready(url, "SELECT 1 FROM status"), what="the first rows")
        server.kill()
        futures = [sleepy(0) for _ in range(50)]
        assert [f.result() for f in futures] == [0] * 50
        started = time.monotonic()
        dfk.cleanup()
        assert time.monotonic() - started < 60
        log = open(os.path.join(dfk.run_dir, "parsl.log")).read()
    finally:
        server.stop()
    assert "monitoring messages of run" in log and "were lost" in log
    assert "database unreachable at shutdown" in log


def test_a_row_the_database_refuses_is_counted_and_the_rest_of_its_batch_written(
        db_url: str) -> None:
    writer = W.DatabaseWriter(db_url, "run-4", flush_period=0.05)
    writer.start()
    now = time.time()
    for i in range(10):
        writer.put((W.STATUS, i, 0, "pending", now))
    writer.put((W.BLOCK, {"block_id": "0", "timestamp": now}))  # no executor_label
    writer.stop(30)
    assert writer.lost_reasons == {"block row refused by the database": 1}
    assert query(db_url, "SELECT count(*) AS n FROM status WHERE run_id = 'run-4'")[0]["n"] == 10


@pytest.mark.slow
def test_run_finishes_and_reports_loss_when_the_writer_process_is_killed(
        tmp_path: Any) -> None:
    """The database writer is a child process: SIGKILL it mid-run; the tasks still
    complete, cleanup is quick, and parsl.log says that it died and how many messages it
    did not write."""
    url = f"sqlite:///{tmp_path}/monitoring.db"
    dfk = parsl.load(threads_config(str(tmp_path / "runinfo"), url))
    try:
        sleepy(0).result()
        wait_for(lambda: query_when_ready(url, "SELECT 1 FROM status"), what="the first rows")
        writer = dfk.config.monitoring.writer
        os.kill(writer.proc.pid, signal.SIGKILL)
        futures = [sleepy(0) for _ in range(50)]
        assert [f.result() for f in futures] == [0] * 50
        wait_for(lambda: writer.dead is not None, what="the dead writer to be noticed")
    finally:
        started = time.monotonic()
        dfk.cleanup()
        cleanup_seconds = time.monotonic() - started
    log = open(os.path.join(dfk.run_dir, "parsl.log")).read()
    assert cleanup_seconds < 30
    assert "database writer process" in log and "died" in log
    lost = writer.lost_reasons.get("database writer process died", 0)
    assert lost >= 50 * 3  # at least the pending, launched and exec_done rows of each task
    assert f"{writer.lost} monitoring messages of run" in log


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_writer_stopped_by_a_signal_exits_and_the_run_counts_later_rows_lost(
        tmp_path: Any, sig: int) -> None:
    """A SIGINT or SIGTERM sent to the writer process (Parsl's ``dbm_proc``) ends it as a
    shell reports a signal (128 + its number), keeping what it had written; later tasks
    still run, cleanup is quick, and the rows sent after it stopped are counted lost."""
    url = f"sqlite:///{tmp_path}/monitoring.db"
    dfk = parsl.load(threads_config(str(tmp_path / "runinfo"), url))
    try:
        assert dfk.monitoring is dfk.config.monitoring
        sleepy(0).result()
        proc = writer = dfk.monitoring.dbm_proc
        assert proc.is_alive()
        assert writer.sync(30)
        os.kill(proc.pid, sig)
        wait_for(lambda: not proc.is_alive(), what="the writer to exit")
        assert proc.proc.returncode == 128 + sig
        futures = [sleepy(0) for _ in range(20)]
        assert [f.result() for f in futures] == [0] * 20
    finally:
        started = time.monotonic()
        dfk.cleanup()
        cleanup_seconds = time.monotonic() - started
    assert cleanup_seconds < 30
    assert query(url, "SELECT count(*) AS n FROM task")[0]["n"] >= 1
    assert writer.lost >= 20


def test_a_batch_larger_than_a_pickled_chunk_is_written_and_confirmed(db_url: str) -> None:
    from parsl_monitoring.writer_process import _CHUNK, WriterProcess

    writer = WriterProcess(db_url, "run-5b", flush_period=0.05)
    now = time.time()
    count = 2 * _CHUNK + 7
    for i in range(count):  # put before start: the first send carries all of them
        writer.put((W.STATUS, i, 0, "pending", now))
    writer.start()
    assert writer.sync(60)
    writer.stop(60)
    assert writer.lost == 0 and writer.dead is None  # every chunk confirmed committed
    assert query(db_url, "SELECT count(*) AS n FROM status WHERE run_id = 'run-5b'"
                 )[0]["n"] == count


def test_writer_process_writes_everything_put_before_stop(db_url: str) -> None:
    from parsl_monitoring.writer_process import WriterProcess

    writer = WriterProcess(db_url, "run-5", flush_period=0.05)
    writer.start()
    now = time.time()
    writer.put((W.WORKFLOW, {"workflow_name": "w", "time_began": now}))
    for i in range(2000):
        writer.put((W.TASK, i, {"task_func_name": "f", "task_time_invoked": now}))
        writer.put((W.STATUS, i, 0, "pending", now))
    assert writer.sync(60)
    writer.put((W.WORKFLOW, {"time_completed": now + 1}))
    writer.stop(60)
    assert writer.proc is not None and writer.proc.returncode == 0
    assert writer.lost == 0 and writer.dead is None
    assert query(db_url, "SELECT count(*) AS n FROM status WHERE run_id = 'run-5'")[0]["n"] \
        == 2000
    assert query(db_url, "SELECT time_completed FROM workflow WHERE run_id = 'run-5'"
                 )[0]["time_completed"] is not None


def test_writer_process_runs_below_the_workflow_at_batch_priority(tmp_path: Any) -> None:
    """The writer must not take the CPU from tasks: lowest niceness and SCHED_BATCH (its
    wake-ups do not preempt the workflow's processes); its rows still get written."""
    from parsl_monitoring.writer_process import WriterProcess

    url = f"sqlite:///{tmp_path}/monitoring.db"
    writer = WriterProcess(url, "run-6", flush_period=0.05)
    writer.start()
    try:
        assert writer.proc is not None
        writer.put((W.STATUS, 1, 0, "pending", time.time()))
        assert writer.sync(60)
        assert os.getpriority(os.PRIO_PROCESS, writer.proc.pid) == 19
        assert os.sched_getscheduler(writer.proc.pid) == os.SCHED_BATCH
    finally:
        writer.stop(60)
    assert query(url, "SELECT count(*) AS n FROM status WHERE run_id = 'run-6'")[0]["n"] == 1
