"""Monitoring of TaskVine and Work Queue tasks: the runner on the worker reports
``running``/``running_ended`` and resource samples through the filesystem radio into a
real SQLite monitoring database (parsl-monitoring's MonitoringHub)."""
from __future__ import annotations

import sqlite3
from typing import Any, Dict, List

import pytest
import tv_apps
from tv_helpers import free_port, loaded

from parsl.executors import WorkQueueExecutor
from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig
from parsl.providers import LocalProvider

pytestmark = pytest.mark.timeout(180)


def _run(executor: Any, port: int, tmp_path_factory: Any, db: str) -> List[int]:
    from parsl_monitoring import MonitoringHub

    hub = MonitoringHub(logging_endpoint=f"sqlite:///{db}", resource_monitoring_interval=0)
    with loaded(executor, tmp_path_factory, port, monitoring=hub):
        futures = [tv_apps.double(i) for i in range(3)] + [tv_apps.fail_with("monitored")]
        outcomes = [_outcome(f) for f in futures]
    assert outcomes == [0, 2, 4, "KeyError: 'monitored'"], outcomes
    return [f.tid for f in futures]


def _outcome(future: Any) -> Any:
    """The task's value, or its exception as text (so a failure shows every outcome)."""
    try:
        return future.result(timeout=90)
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def _rows(db: str, query: str) -> List[Any]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def _statuses(db: str) -> Dict[int, List[str]]:
    found: Dict[int, List[str]] = {}
    for task_id, name in _rows(db, "SELECT task_id, task_status_name FROM status "
                                   "ORDER BY timestamp, id"):
        found.setdefault(task_id, []).append(name)
    return found


@pytest.mark.parametrize("kind", ["taskvine", "serverless", "workqueue"])
def test_worker_side_running_and_running_ended_and_resources_reach_the_database(
        kind: str, tmp_path_factory: Any, tmp_path: Any) -> None:
    """TaskVine through the filesystem radio, Work Queue through UDP on loopback: the
    executor's ``remote_monitoring_radio`` is the one its workers use."""
    from parsl_monitoring import FilesystemRadio, UDPRadio

    port = free_port()
    if kind in ("taskvine", "serverless"):
        executor: Any = TaskVineExecutor(
            label=f"{kind}_mon", function_exec_mode="regular" if kind == "taskvine" else kind,
            manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1"),
            factory_config=TaskVineFactoryConfig(cores=2, worker_timeout=60),
            remote_monitoring_radio=FilesystemRadio())
    else:
        executor = WorkQueueExecutor(label="wq_mon", port=port, address="127.0.0.1",
                                     provider=LocalProvider(init_blocks=1, max_blocks=1),
                                     remote_monitoring_radio=UDPRadio(address="127.0.0.1"))
    db = str(tmp_path / "monitoring.db")
    task_ids = _run(executor, port, tmp_path_factory, db)
    statuses = _statuses(db)
    for task_id in task_ids:
        assert "running" in statuses[task_id] and "running_ended" in statuses[task_id], \
            statuses[task_id]
        assert statuses[task_id].index("running") < statuses[task_id].index("running_ended")
    tries = _rows(db, "SELECT task_id, hostname, executor_task_id, task_try_time_running "
                      "FROM try")
    assert {row[0] for row in tries} == set(task_ids)
    assert all(row[1] and row[2] is not None and row[3] for row in tries), tries
    samples = _rows(db, "SELECT DISTINCT task_id FROM resource WHERE "
                        "psutil_process_memory_resident > 0")
    assert {row[0] for row in samples} == set(task_ids)
