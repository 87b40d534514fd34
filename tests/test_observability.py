"""Observability on real HTEX runs: the log configuration reaches every process, and
``parsl logs`` merges one task's records from the DFK, interchange, manager and worker.

Each fixture runs one real workflow (interchange, LocalProvider block, manager and worker
processes on loopback) and shuts it down; the tests then read its run directory.
"""
from __future__ import annotations

import io
import json
import os
import pathlib
import time
from typing import Any, Dict, Iterator, List

import observability_tasks
import pytest

import parsl
from parsl.cli import main as parsl_main
from parsl.config import Config
from parsl.log_context import TASK_EVENTS
from parsl.logconfigs import FileLogging, JSONLogging
from parsl.logview.latency import compute
from parsl.logview.timeline import task_records

pytestmark = pytest.mark.slow

SUPPORT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_support")
noop = parsl.python_app(observability_tasks.noop)
noop_a = parsl.python_app(observability_tasks.noop, executors=["htex_a"])
noop_b = parsl.python_app(observability_tasks.noop, executors=["htex_b"])
fail_first_try_b = parsl.python_app(observability_tasks.fail_first_try, executors=["htex_b"])


def _htex(label: str) -> Any:
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    provider = LocalProvider(init_blocks=1, max_blocks=1,
                             worker_init=f"export PYTHONPATH={SUPPORT_DIR}:${{PYTHONPATH:-}}")
    return HighThroughputExecutor(label=label, address="127.0.0.1", max_workers_per_node=2,
                                  heartbeat_period=1, provider=provider)


@pytest.fixture(scope="module")
def json_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """Two HTEX executors, JSON logging with per-task events, retries=1: ten tasks on
    each executor and one task on htex_b that fails its first try."""
    pytest.importorskip("parsl_htex", reason="parsl-htex is not installed")
    base = tmp_path_factory.mktemp("json_run")
    config = Config(executors=[_htex("htex_a"), _htex("htex_b")], retries=1,
                    run_dir=str(base / "runinfo"),
                    initialize_logging=JSONLogging(level=TASK_EVENTS))
    with parsl.load(config) as dfk:
        on_a = [noop_a(i) for i in range(10)]
        on_b = [noop_b(i) for i in range(10)]
        retried = fail_first_try_b(str(base / "marker"))
        assert [f.result(timeout=120) for f in on_a + on_b] == list(range(10)) * 2
        assert retried.result(timeout=120) == "second try"
        run_dir = dfk.run_dir
    _wait_for_worker_records(run_dir, [f.tid for f in on_a + on_b] + [retried.tid])
    yield {"run_dir": run_dir, "a": on_a[0].tid, "b": on_b[0].tid, "retried": retried.tid}


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """One HTEX executor, text logs with per-task events (FileLogging at TASK_EVENTS)."""
    pytest.importorskip("parsl_htex", reason="parsl-htex is not installed")
    base = tmp_path_factory.mktemp("text_run")
    config = Config(executors=[_htex("htex")], run_dir=str(base / "runinfo"),
                    initialize_logging=FileLogging(level=TASK_EVENTS))
    with parsl.load(config) as dfk:
        fut = noop(1)
        assert fut.result(timeout=120) == 1
        run_dir = dfk.run_dir
    _wait_for_worker_records(run_dir, [fut.tid])
    yield {"run_dir": run_dir, "task": fut.tid}


def _wait_for_worker_records(run_dir: str, task_ids: List[int]) -> None:
    """Workers write their last buffered events as they exit, which can be a few
    milliseconds after the DFK's cleanup returns: wait for them (bounded)."""
    deadline = time.monotonic() + 30
    for tid in task_ids:
        while not any(r.context.get("event") == "worker_end"
                      for r in task_records(run_dir, tid)):
            if time.monotonic() > deadline:
                raise AssertionError(f"no worker record of task {tid} in {run_dir} "
                                     "within 30 s of shutdown")
            time.sleep(0.1)


def _events(records: List[Any]) -> List[str]:
    return [r.context["event"] for r in records if "event" in r.context]


def _kind(process: str) -> str:
    last = process.rsplit("/", 1)[-1]
    return "worker" if last.startswith("worker_") else last


def test_json_run_writes_jsonlog_in_every_process(json_run: Dict[str, Any]) -> None:
    run = pathlib.Path(json_run["run_dir"])
    assert (run / "parsl.jsonlog").exists()
    for label in ("htex_a", "htex_b"):
        assert (run / label / "interchange.jsonlog").exists()
        assert list((run / label).glob("block-0/*/manager.jsonlog"))
        assert list((run / label).glob("block-0/*/worker_*.jsonlog"))
    assert not list(run.rglob("*.log"))


def test_every_jsonlog_line_is_an_object_with_template_text_and_context(
        json_run: Dict[str, Any]) -> None:
    workers = list(pathlib.Path(json_run["run_dir"]).glob("htex_a/block-0/*/worker_*.jsonlog"))
    records = [json.loads(line) for path in workers for line in path.read_text().splitlines()]
    ready = [r for r in records if r["msg"] == "Worker %d (pid %d) ready"]
    assert len(ready) == 2
    for r in ready:
        assert r["formatted"] == f"Worker {r['worker_id']} (pid {r['process']}) ready"
        assert r["executor"] == "htex_a" and r["block_id"] == "0"
        assert {"run_id", "manager_id", "created", "threadName", "pathname"} <= r.keys()
    ran = [e for r in records for e in r.get("task_events", [])]
    assert len(ran) == 10 and {e["event"] for e in ran} == {"worker_end"}
    assert all(e["started"] <= e["time"] and e["outcome"] == "ok" for e in ran)


def test_interchange_managers_and_workers_write_their_events_in_batches(
        json_run: Dict[str, Any]) -> None:
    run = pathlib.Path(json_run["run_dir"])
    for path in [run / "htex_a" / "interchange.jsonlog",
                 *run.glob("htex_a/block-0/*/manager.jsonlog"),
                 *run.glob("htex_a/block-0/*/worker_*.jsonlog")]:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        entries = [e for r in records for e in r.get("task_events", [])]
        assert entries, path
        assert all(r["executor"] == "htex_a" for r in records if "task_events" in r)


def test_timeline_shows_a_task_crossing_all_four_processes_in_order(
        json_run: Dict[str, Any]) -> None:
    records = task_records(json_run["run_dir"], json_run["a"])
    assert {_kind(r.process) for r in records} == {"parsl", "interchange", "manager", "worker"}
    assert _events(records) == ["submitted", "launched", "ix_received", "ix_dispatched",
                                "mgr_received", "worker_start", "worker_end", "completed"]
    assert {r.context.get("executor") for r in records} - {None} == {"htex_a"}
    assert all(r.context["task_id"] == json_run["a"] for r in records)


def test_timeline_keeps_executors_of_the_same_kind_apart(json_run: Dict[str, Any]) -> None:
    records = task_records(json_run["run_dir"], json_run["b"])
    assert all(r.process == "parsl" or r.process.startswith("htex_b/") for r in records)
    assert "worker_start" in _events(records)


def test_timeline_shows_each_try_of_a_retried_task(json_run: Dict[str, Any]) -> None:
    records = task_records(json_run["run_dir"], json_run["retried"])
    starts = [r.context.get("try_id") for r in records
              if r.context.get("event") == "worker_start"]
    assert starts == [0, 1]
    assert _events(records).count("try_failed") == 1
    assert _events(records)[-1] == "completed"


def test_timeline_command_prints_tries_apart(json_run: Dict[str, Any],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert parsl_main(["logs", "timeline", json_run["run_dir"],
                       str(json_run["retried"])]) == 0
    out = capsys.readouterr().out
    assert "--- try 0 ---" in out and "--- try 1 ---" in out
    assert out.index("--- try 0 ---") < out.index("--- try 1 ---")
    assert "parsl_htex.worker" in out and "parsl_htex.interchange" in out


def test_latency_groups_tasks_by_app_executor_and_path(json_run: Dict[str, Any]) -> None:
    groups = compute(json_run["run_dir"])
    by_key = {(app, ex): g for (app, ex, _), g in groups.items()}
    assert by_key[("noop", "htex_a")].count == 10
    assert by_key[("noop", "htex_b")].count == 10
    retried = by_key[("fail_first_try", "htex_b")]
    assert retried.count == 1 and retried.path.count("launched") == 2


def test_latency_command_reports_median_and_p95_of_each_step(
        json_run: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert parsl_main(["logs", "latency", json_run["run_dir"]]) == 0
    out = capsys.readouterr().out
    assert "21 tasks in 3 groups" in out
    assert "app=noop executor=htex_a tasks=10" in out
    assert "mgr_received -> worker_start" in out and "median" in out and "p95" in out


def test_trace_has_worker_tracks_try_slices_flows_and_queue_counters(
        json_run: Dict[str, Any], tmp_path: pathlib.Path) -> None:
    out = tmp_path / "trace.json"
    assert parsl_main(["logs", "trace", json_run["run_dir"], "-o", str(out)]) == 0
    events = json.loads(out.read_text())
    slices = [e for e in events if e["ph"] == "X" and e.get("cat") == "try"]
    assert len(slices) == 22  # 21 tasks, one of them tried twice
    assert {e["args"]["executor"] for e in slices} == {"htex_a", "htex_b"}
    tracks = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert tracks <= {"worker 0", "worker 1"} and tracks
    flows = {e["ph"] for e in events if e.get("cat") == "task"}
    assert flows == {"s", "t", "f"}
    counters = {e["name"].split()[0] for e in events if e["ph"] == "C"}
    assert {"dfk_pending", "ix_pending", "manager_tasks"} <= counters


def test_plot_is_one_offline_html_page(json_run: Dict[str, Any],
                                       tmp_path: pathlib.Path) -> None:
    out = tmp_path / "plot.html"
    assert parsl_main(["logs", "plot", json_run["run_dir"], "-o", str(out), "--task",
                       str(json_run["a"])]) == 0
    page = out.read_text()
    assert page.count("<svg") == 2 and "polyline" in page and "ix_pending" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page


def test_text_logs_give_the_same_cross_process_timeline(text_run: Dict[str, Any]) -> None:
    run = pathlib.Path(text_run["run_dir"])
    assert (run / "htex" / "interchange.log").exists()
    records = task_records(text_run["run_dir"], text_run["task"])
    assert {_kind(r.process) for r in records} == {"parsl", "interchange", "manager", "worker"}
    assert _events(records)[0] == "submitted" and _events(records)[-1] == "completed"
    assert "worker_start" in _events(records)


def test_timeline_of_an_unknown_task_says_so(text_run: Dict[str, Any]) -> None:
    out = io.StringIO()
    from parsl.logview.cli import _timeline

    class Args:
        run_dir = text_run["run_dir"]
        task_id = 999
        json = False

    assert _timeline(Args(), out) == 1  # type: ignore[arg-type]
    assert "no records of task 999" in out.getvalue()


def test_missing_run_dir_is_a_clear_error(tmp_path: pathlib.Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert parsl_main(["logs", "latency", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_file_logging_format_reaches_interchange_manager_and_worker(
        tmp_path: pathlib.Path) -> None:
    pytest.importorskip("parsl_htex", reason="parsl-htex is not installed")
    token = "XXXXYYYYY"
    config = Config(executors=[_htex("htex")], run_dir=str(tmp_path / "runinfo"),
                    initialize_logging=FileLogging(format_string=f"{token} %(message)s"))
    with parsl.load(config) as dfk:
        assert noop(1).result(timeout=120) == 1
        run = pathlib.Path(dfk.run_dir)
    pool = next((run / "htex" / "block-0").iterdir())
    for path in (run / "htex" / "interchange.log", pool / "manager.log",
                 *pool.glob("worker_*.log")):
        lines = path.read_text().splitlines()
        assert lines and lines[0].startswith(token), path
