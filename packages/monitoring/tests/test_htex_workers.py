"""What workers record through HTEX: running/running_ended, resources, failures, blocks and
nodes, on SQLite and PostgreSQL, with real interchange, manager and worker processes."""
from __future__ import annotations

import os
from typing import Any, List, NamedTuple

import monitoring_test_tasks as tasks
import pytest
from monitoring_support import htex_config, query, query_when_ready, wait_for

import parsl
from parsl.app.app import python_app

square = python_app(tasks.square)
busy = python_app(tasks.busy)
explode = python_app(tasks.explode)


def _statuses(url: str, run_id: str, task_id: int) -> List[str]:
    rows = query(url, "SELECT task_status_name FROM status WHERE run_id = :r AND task_id = :t "
                 "ORDER BY timestamp, id", r=run_id, t=task_id)
    return [r["task_status_name"] for r in rows]


class RecordedRun(NamedTuple):
    run_dir: str
    url: str
    run_id: str
    squares: List[int]
    busy: int
    failed: int


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def recorded(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    """One HTEX run per backend, shared by the tests below that only read what it recorded
    (starting real blocks is what takes the time): 20 short tasks, one that burns CPU for
    1.5 s with samples every 0.3 s, and one that fails. Workers report through
    ``HTEXRadio``, over the executor's own connections."""
    from parsl.monitoring import HTEXRadio

    tmp = tmp_path_factory.mktemp("htex-run")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/monitoring.db"
    else:
        url = request.getfixturevalue("postgres").new_database()
    config = htex_config(str(tmp / "runinfo"), url, resource_monitoring_interval=0.3,
                         node_poll_period=0.2, radio=HTEXRadio())
    with parsl.load(config) as dfk:
        squares = [square(i) for i in range(20)]
        cpu = busy(1.5)
        bad = explode("the reactor is on fire")
        assert [f.result(timeout=120) for f in squares] == [i * i for i in range(20)]
        cpu.result(timeout=120)
        with pytest.raises(RuntimeError):
            bad.result(timeout=120)
        wait_for(lambda: query_when_ready(url, "SELECT 1 FROM node WHERE run_id = :r",
                                          r=dfk.run_id),
                 what="the node poller to record the manager")
        wait_for(lambda: query_when_ready(url, "SELECT 1 FROM block WHERE run_id = :r AND "
                                          "status = 'RUNNING'", r=dfk.run_id),
                 what="the block status poller to see the block running")
        run_id = dfk.run_id
        run_dir = dfk.run_dir
    return RecordedRun(run_dir, url, run_id, [f.tid for f in squares], cpu.tid, bad.tid)


def test_workers_record_running_and_running_ended_for_every_try(
        recorded: RecordedRun) -> None:
    for tid in recorded.squares:
        assert _statuses(recorded.url, recorded.run_id, tid) == [
            "pending", "launched", "running", "running_ended", "exec_done"]


def test_htex_radio_writes_no_files_and_opens_no_radio_of_its_own(
        recorded: RecordedRun) -> None:
    assert not os.path.exists(os.path.join(recorded.run_dir, "monitor-fs-radio"))
    samples = query(recorded.url, "SELECT count(*) AS n FROM resource WHERE run_id = :r",
                    r=recorded.run_id)[0]["n"]
    assert samples >= 22  # at least the final sample of every try came over HTEX


def test_htex_reports_over_its_own_connections_unless_told_otherwise() -> None:
    from parsl.executors import HighThroughputExecutor
    from parsl.monitoring import FilesystemRadio, HTEXRadio, MonitoringHub

    hub = MonitoringHub()
    assert type(hub._radio_for(HighThroughputExecutor())) is HTEXRadio
    chosen = FilesystemRadio()
    assert hub._radio_for(HighThroughputExecutor(remote_monitoring_radio=chosen)) is chosen


def test_try_rows_name_the_host_block_and_worker(recorded: RecordedRun) -> None:
    tries = query(recorded.url, "SELECT * FROM try WHERE run_id = :r", r=recorded.run_id)
    assert len(tries) == 22
    for t in tries:
        assert t["task_try_time_running"] is not None
        assert t["hostname"]
        assert t["block_id"] == "0"
        assert t["worker_id"]


def test_resource_samples_respect_the_interval_and_end_with_a_final_one(
        recorded: RecordedRun) -> None:
    rows = query(recorded.url, "SELECT * FROM resource WHERE run_id = :r AND task_id = :t "
                 "ORDER BY timestamp", r=recorded.run_id, t=recorded.busy)
    # The first sample, periodic ones every 0.3 s or more over 1.5 s (the sampler thread
    # competes for the GIL with the busy task, so a sample can come late), the final one.
    assert 3 <= len(rows) <= 8
    assert [bool(r["final"]) for r in rows] == [False] * (len(rows) - 1) + [True]
    assert all(r["psutil_process_memory_resident"] > 0 for r in rows)
    assert max(r["psutil_process_cpu_percent"] for r in rows) > 5  # a shared, loaded machine
    assert rows[-1]["psutil_process_memory_peak"] >= rows[0]["psutil_process_memory_resident"]
    assert rows[-1]["psutil_process_time_user"] > rows[0]["psutil_process_time_user"] + 0.05


def test_a_failure_records_its_exception_and_remote_traceback(recorded: RecordedRun) -> None:
    history = query(recorded.url, "SELECT task_fail_history FROM try WHERE run_id = :r AND "
                    "task_id = :t", r=recorded.run_id, t=recorded.failed)[0]["task_fail_history"]
    assert "RuntimeError: the reactor is on fire" in history
    assert "in explode" in history  # the app's frame from the worker's traceback


def test_block_rows_follow_the_block(recorded: RecordedRun) -> None:
    blocks = query(recorded.url, "SELECT status FROM block WHERE run_id = :r ORDER BY "
                   "timestamp, id", r=recorded.run_id)
    assert "RUNNING" in [b["status"] for b in blocks]


def test_node_rows_come_from_manager_registration_and_end(recorded: RecordedRun) -> None:
    nodes = query(recorded.url, "SELECT event, active, worker_count FROM node WHERE "
                  "run_id = :r ORDER BY timestamp, id", r=recorded.run_id)
    assert nodes[0]["event"] == "registered"
    assert nodes[0]["worker_count"] == 2
    assert not nodes[-1]["active"]


@pytest.mark.slow
def test_interval_zero_records_only_the_first_and_the_last_sample(tmp_path: Any) -> None:
    db_url = f"sqlite:///{tmp_path}/monitoring.db"
    config = htex_config(str(tmp_path / "runinfo"), db_url, workers=1,
                         resource_monitoring_interval=0)
    with parsl.load(config) as dfk:
        fut = busy(0.8)
        fut.result(timeout=120)
        run_id = dfk.run_id
    rows = query(db_url, "SELECT final FROM resource WHERE run_id = :r AND task_id = :t "
                 "ORDER BY timestamp", r=run_id, t=fut.tid)
    assert [bool(r["final"]) for r in rows] == [False, True]


@pytest.mark.slow
def test_resource_monitoring_disabled_records_no_samples(tmp_path: Any) -> None:
    db_url = f"sqlite:///{tmp_path}/monitoring.db"
    config = htex_config(str(tmp_path / "runinfo"), db_url, resource_monitoring_enabled=False)
    with parsl.load(config) as dfk:
        square(3).result(timeout=120)
        run_id = dfk.run_id
    assert query(db_url, "SELECT count(*) AS n FROM resource WHERE run_id = :r",
                 r=run_id)[0]["n"] == 0


@pytest.mark.slow
def test_udp_radio_delivers_every_worker_event(tmp_path: Any) -> None:
    db_url = f"sqlite:///{tmp_path}/monitoring.db"
    from parsl.monitoring import UDPRadio

    config = htex_config(str(tmp_path / "runinfo"), db_url, radio=UDPRadio(address="127.0.0.1"))
    with parsl.load(config) as dfk:
        futures = [square(i) for i in range(30)]
        for f in futures:
            f.result(timeout=120)
        run_id = dfk.run_id
    counts = {r["task_status_name"]: r["n"] for r in query(
        db_url, "SELECT task_status_name, count(*) AS n FROM status WHERE run_id = :r "
        "GROUP BY task_status_name", r=run_id)}
    assert counts["running"] == counts["running_ended"] == 30


def test_block_rows_end_with_the_state_the_executor_left_the_block_in(
        recorded: RecordedRun) -> None:
    """Blocks cancelled while the executor shuts down are recorded too (Parsl's
    test_monitoring/test_basic.py wants at least two block rows for a one-task run)."""
    rows = query(recorded.url, "SELECT status FROM block WHERE run_id = :r ORDER BY timestamp",
                 r=recorded.run_id)
    states = [r["status"] for r in rows]
    assert "RUNNING" in states
    assert states[-1] == "SCALED_IN"


@pytest.mark.slow
def test_garbage_sent_to_the_monitoring_port_does_not_disturb_the_run(tmp_path: Any) -> None:
    """Parsl's test_htex_fuzz_zmq: raw bytes and a stray ZMQ message sent to the port the
    interchange's monitoring records travel through (``hub_zmq_port``) change nothing:
    later tasks run and every task and try is recorded."""
    import socket

    import zmq

    url = f"sqlite:///{tmp_path}/monitoring.db"
    with parsl.load(htex_config(str(tmp_path / "runinfo"), url)) as dfk:
        executor = dfk.executors["htex"]
        assert [square(i).result(timeout=120) for i in (1, 2)] == [1, 4]
        port = executor.hub_zmq_port
        assert isinstance(port, int)
        with socket.create_connection((executor.loopback_address, port), timeout=10) as raw:
            raw.sendall(b"fuzzing\r")
        ctx = zmq.Context()
        try:
            stray = ctx.socket(zmq.DEALER)
            stray.linger = 0
            stray.connect(f"tcp://{executor.loopback_address}:{port}")
            stray.send(b"FuzzyByte\rSTREAM", flags=zmq.NOBLOCK)
            assert [square(i).result(timeout=120) for i in (3, 4)] == [9, 16]
            stray.close()
        finally:
            ctx.term()
        run_id = dfk.run_id
    assert query(url, "SELECT count(*) AS n FROM task WHERE run_id = :r", r=run_id)[0]["n"] == 4
    assert query(url, "SELECT count(*) AS n FROM try WHERE run_id = :r AND "
                 "task_try_time_returned IS NOT NULL", r=run_id)[0]["n"] == 4


def test_hub_zmq_port_is_none_without_monitoring() -> None:
    from parsl.executors import HighThroughputExecutor

    assert HighThroughputExecutor().hub_zmq_port is None
