"""parsl-visualize's pages over databases a browser test cannot cheaply produce: 10,000
tasks, and a run with incomplete data. Rows are written by the real DatabaseWriter; pages
are fetched through Flask's test client (the browser tests cover rendering)."""
from __future__ import annotations

import time
from typing import Any

from parsl_monitoring import writer as W
from parsl_monitoring.visualize import create_app


def _write(url: str, run_id: str, messages: Any) -> None:
    writer = W.DatabaseWriter(url, run_id, flush_period=0.05)
    writer.start()
    for m in messages:
        writer.put(m)
    writer.stop(60)
    assert writer.lost == 0


def test_dependency_graph_of_10000_tasks_is_drawn_one_node_per_app(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/monitoring.db"
    now = time.time()
    messages: list[Any] = [(W.WORKFLOW, {"workflow_name": "big", "time_began": now})]
    for i in range(10_000):
        app = "produce" if i % 2 == 0 else "consume"
        fields = {"task_func_name": app, "task_status_name": "exec_done",
                  "task_time_invoked": now}
        if app == "consume":
            fields["task_depends"] = str(i - 1)
        messages.append((W.TASK, i, fields))
        messages.append((W.STATUS, i, 0, "exec_done", now + i * 0.001))
    _write(url, "big-run", messages)
    client = create_app(url).test_client()
    started = time.monotonic()
    page = client.get("/workflow/big-run/dag")
    elapsed = time.monotonic() - started
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "10000 tasks: drawn as one node per app" in text
    assert '"count": 5000' in text.replace('"count":5000', '"count": 5000')
    assert elapsed < 30  # generous: a shared machine; the benchmark holds the real target


def test_pages_of_a_run_with_incomplete_data_do_not_error(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/monitoring.db"
    now = time.time()
    _write(url, "partial", [
        (W.WORKFLOW, {"workflow_name": "partial", "time_began": now}),  # never completed
        (W.TASK, 1, {"task_func_name": "f"}),                            # no times, no state
        (W.TRY, 1, 0, {"task_executor": "htex"}),                        # never launched
        (W.TRY, 2, 0, {"task_try_time_running": now}),                   # no task row
        (W.STATUS, 3, 0, "running", now),                                # status only
        (W.RESOURCE, {"task_id": 4, "try_id": 0, "timestamp": now}),     # empty sample
        (W.NODE, {"uid": "m", "hostname": "", "block_id": "", "active": True,
                  "timestamp": now}),
        (W.BLOCK, {"executor_label": "htex", "block_id": "0", "timestamp": now}),
    ])
    client = create_app(url).test_client()
    for path in ("/", "/workflow/partial/", "/workflow/partial/data.json",
                 "/workflow/partial/task/1", "/workflow/partial/dag",
                 "/compare?a=partial&b=partial"):
        assert client.get(path).status_code == 200, path
    assert client.get("/workflow/partial/task/2").status_code == 404


def test_an_empty_database_shows_no_runs(tmp_path: Any) -> None:
    import sqlite3

    sqlite3.connect(f"{tmp_path}/empty.db").close()
    page = create_app(f"sqlite:///{tmp_path}/empty.db").test_client().get("/")
    assert page.status_code == 200
    assert "No runs recorded" in page.get_data(as_text=True)


def test_a_missing_database_file_is_refused_with_its_path(tmp_path: Any) -> None:
    import pytest

    with pytest.raises(FileNotFoundError, match=r"nowhere\.db"):
        create_app(f"sqlite:///{tmp_path}/nowhere.db")
