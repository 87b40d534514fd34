"""What the DFK side records, on SQLite and PostgreSQL (thread executor: no workers)."""
from __future__ import annotations

import datetime
import os
from typing import Any, Dict, List

import pytest
from monitoring_support import query, threads_config

import parsl
from parsl.app.app import join_app, python_app
from parsl.dataflow.errors import DependencyError


@python_app
def double(x: int) -> int:
    return 2 * x


@python_app
def fail(message: str) -> None:
    raise ValueError(message)


@python_app
def take(x: Any) -> Any:
    return x


@join_app
def joiner(n: int) -> Any:
    return [double(i) for i in range(n)]


@python_app(cache=True)
def cached(x: int) -> int:
    return x + 1


def _statuses(url: str, run_id: str, task_id: int) -> List[str]:
    rows = query(url, "SELECT task_status_name FROM status WHERE run_id = :r AND task_id = :t "
                 "ORDER BY timestamp, id", r=run_id, t=task_id)
    return [r["task_status_name"] for r in rows]


def test_every_state_change_is_a_status_row(tmp_path: Any, db_url: str) -> None:
    with parsl.load(threads_config(str(tmp_path / "runinfo"), db_url, retries=1)) as dfk:
        ok = double(1)
        bad = fail("boom")
        dep = take(bad)
        first = cached(5)
        first.result()
        memo = cached(5)
        joined = joiner(2)
        ok.result(), memo.result(), joined.result()
        with pytest.raises(DependencyError):
            dep.result()
        run_id = dfk.run_id
    assert _statuses(db_url, run_id, ok.tid) == ["pending", "launched", "running",
                                                 "running_ended", "exec_done"]
    assert _statuses(db_url, run_id, bad.tid) == [
        "pending", "launched", "running", "running_ended", "fail_retryable",
        "launched", "running", "running_ended", "failed"]
    assert _statuses(db_url, run_id, dep.tid) == ["pending", "dep_fail"]
    assert _statuses(db_url, run_id, memo.tid) == ["pending", "memo_done"]
    assert _statuses(db_url, run_id, joined.tid) == [
        "pending", "launched", "running", "running_ended", "joining", "exec_done"]


def test_task_and_try_rows_use_parsls_columns(tmp_path: Any, db_url: str) -> None:
    with parsl.load(threads_config(str(tmp_path / "runinfo"), db_url, retries=1)) as dfk:
        bad = fail("kaput")
        with pytest.raises(ValueError):
            bad.result()
        dep = take(double(3))
        dep.result()
        run_id = dfk.run_id
    task: Dict[str, Any] = query(db_url, "SELECT * FROM task WHERE run_id = :r AND task_id = :t",
                                 r=run_id, t=bad.tid)[0]
    assert task["task_func_name"] == "fail"
    assert task["task_fail_count"] == 2
    assert task["task_status_name"] == "failed"
    tries = query(db_url, "SELECT * FROM try WHERE run_id = :r AND task_id = :t ORDER BY try_id",
                  r=run_id, t=bad.tid)
    assert [t["try_id"] for t in tries] == [0, 1]
    assert all("ValueError: kaput" in t["task_fail_history"] for t in tries)
    assert all(t["task_executor"] == "threads" for t in tries)
    depends = query(db_url, "SELECT task_depends FROM task WHERE run_id = :r AND task_id = :t",
                    r=run_id, t=dep.tid)[0]["task_depends"]
    assert depends == str(dep.tid - 1)


def test_workflow_row_records_start_end_and_counts(tmp_path: Any, db_url: str) -> None:
    with parsl.load(threads_config(str(tmp_path / "runinfo"), db_url)) as dfk:
        futures = [double(i) for i in range(5)] + [fail("x")]
        for f in futures[:-1]:
            f.result()
        with pytest.raises(ValueError):
            futures[-1].result()
        run_id = dfk.run_id
        run_dir = dfk.run_dir
    row = query(db_url, "SELECT * FROM workflow WHERE run_id = :r", r=run_id)[0]
    assert row["tasks_completed_count"] == 5
    assert row["tasks_failed_count"] == 1
    assert str(row["time_began"]) <= str(row["time_completed"])
    assert row["rundir"] == os.path.abspath(run_dir)
    assert row["messages_lost"] == 0


def test_times_are_stored_in_utc(tmp_path: Any, db_url: str) -> None:
    with parsl.load(threads_config(str(tmp_path / "runinfo"), db_url)) as dfk:
        double(1).result()
        run_id = dfk.run_id
    began = query(db_url, "SELECT time_began FROM workflow WHERE run_id = :r",
                  r=run_id)[0]["time_began"]
    began = datetime.datetime.fromisoformat(str(began))  # SQLite returns text
    now_utc = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now_utc - began).total_seconds()) < 600


def test_thread_executor_records_no_resource_rows(tmp_path: Any, db_url: str) -> None:
    with parsl.load(threads_config(str(tmp_path / "runinfo"), db_url)) as dfk:
        double(1).result()
        run_id = dfk.run_id
    assert query(db_url, "SELECT count(*) AS n FROM resource WHERE run_id = :r",
                 r=run_id)[0]["n"] == 0


def test_default_database_is_one_file_beside_the_run_dirs(tmp_path: Any) -> None:
    run_ids = []
    for _ in range(2):
        with parsl.load(threads_config(str(tmp_path / "runinfo"), None)) as dfk:
            double(1).result()
            run_ids.append(dfk.run_id)
    url = f"sqlite:///{tmp_path}/runinfo/monitoring.db"
    rows = query(url, "SELECT run_id FROM workflow ORDER BY time_began")
    assert [r["run_id"] for r in rows] == run_ids


@pytest.mark.slow
def test_ten_thousand_tasks_leave_every_task_and_status_row(tmp_path: Any,
                                                            db_url: str) -> None:
    with parsl.load(threads_config(str(tmp_path / "runinfo"), db_url)) as dfk:
        futures = [double(i) for i in range(10_000)]
        for f in futures:
            f.result()
        run_id = dfk.run_id
    assert query(db_url, "SELECT count(*) AS n FROM task WHERE run_id = :r",
                 r=run_id)[0]["n"] == 10_000
    assert query(db_url, "SELECT count(*) AS n FROM status WHERE run_id = :r",
                 r=run_id)[0]["n"] == 50_000  # pending launched running running_ended done


def test_one_hub_used_by_two_runs_records_both(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/monitoring.db"
    hub = threads_config(str(tmp_path / "runinfo"), url).monitoring
    run_ids = []
    for _ in range(2):
        config = threads_config(str(tmp_path / "runinfo"), url)
        config.monitoring = hub
        with parsl.load(config) as dfk:
            double(1).result()
            run_ids.append(dfk.run_id)
    rows = query(url, "SELECT run_id, tasks_completed_count FROM workflow")
    assert sorted((r["run_id"], r["tasks_completed_count"]) for r in rows) == \
        sorted((r, 1) for r in run_ids)


@python_app
def first_input(inputs: Any = ()) -> Any:
    return inputs[0]


def test_task_inputs_are_stored_as_parsl_does_with_futures_resolved(tmp_path: Any) -> None:
    """Parsl stores str() of the inputs list, after the futures in it resolved ('None'
    without inputs); its test_monitoring/test_incomplete_futures.py checks this."""
    from concurrent.futures import Future

    url = f"sqlite:///{tmp_path}/monitoring.db"
    with parsl.load(threads_config(str(tmp_path / "runinfo"), url)) as dfk:
        gate: Future[int] = Future()
        waiting = first_input(inputs=[gate])
        gate.set_result(424242)
        assert waiting.result(timeout=60) == 424242
        plain = double(1)
        plain.result(timeout=60)
        run_id = dfk.run_id
    rows = {r["task_id"]: r["task_inputs"] for r in query(
        url, "SELECT task_id, task_inputs FROM task WHERE run_id = :r", r=run_id)}
    assert rows == {waiting.tid: "[424242]", plain.tid: "None"}


def test_task_rows_record_each_tasks_outcome(tmp_path: Any, db_url: str) -> None:
    """The task row of a success, a failure and a dependency failure: final state, return
    time, fail count and the failure text (each through the compact per-state messages)."""
    with parsl.load(threads_config(str(tmp_path / "runinfo"), db_url)) as dfk:
        good = double(2)
        bad = fail("kaput")
        orphan = take(bad)
        assert good.result() == 4
        with pytest.raises(DependencyError):
            orphan.result()
        run_id = dfk.run_id
    rows = {r["task_id"]: r for r in query(db_url, "SELECT * FROM task WHERE run_id = :r",
                                           r=run_id)}
    assert rows[good.tid]["task_status_name"] == "exec_done"
    assert rows[good.tid]["task_fail_count"] == 0
    assert rows[good.tid]["task_fail_history"] is None
    assert rows[good.tid]["task_memoize"] == "False"
    assert rows[bad.tid]["task_status_name"] == "failed"
    assert rows[bad.tid]["task_fail_count"] == 1
    assert "kaput" in rows[bad.tid]["task_fail_history"]
    assert rows[orphan.tid]["task_status_name"] == "dep_fail"
    assert rows[orphan.tid]["task_depends"] == str(bad.tid)
    for task_id in (good.tid, bad.tid, orphan.tid):
        assert rows[task_id]["task_time_returned"] is not None
        assert rows[task_id]["task_time_returned"] >= rows[task_id]["task_time_invoked"]
