"""parsl.logview readers on logs written by the real handlers of parsl.logconfigs.

The "processes" here are log files written one after another from this process, with the
process context each HTEX process would set; the end-to-end tests on real HTEX runs are
in tests/test_observability.py.
"""
from __future__ import annotations

import logging
import pathlib
import time
import tracemalloc
from typing import Callable, Iterator

import pytest

from parsl.log_context import TASK_EVENTS, TaskEvents, set_process_context
from parsl.logconfigs import FileLogging, JSONLogging, LogConfig
from parsl.logview.latency import compute
from parsl.logview.records import find_log_files, split_context
from parsl.logview.timeline import task_records

logger = logging.getLogger("parsl.test.logview")


@pytest.fixture(autouse=True)
def _clean_context() -> Iterator[None]:
    yield
    set_process_context(run_id=None, executor=None, block_id=None, manager_id=None,
                        worker_id=None)


def _write(config: LogConfig, folder: pathlib.Path, name: str,
           body: Callable[[], None], **context: object) -> None:
    set_process_context(**context)
    undo = config.initialize_logging(log_dir=folder, log_name=name)
    try:
        body()
    finally:
        undo()
        set_process_context(**{k: None for k in context})


def _fake_run(config_type: type, run: pathlib.Path, tasks: int) -> None:
    """Write a DFK log and an interchange log (events in batches, as those processes
    write them) and a worker log (one record per task) for ``tasks`` tasks."""
    t0 = time.time() - 3 * tasks - 100

    def dfk() -> None:
        events = TaskEvents(logger)
        for t in range(tasks):
            events.add_at(t0 + 3 * t + 0.1, "launched", t, try_id=0, executor="htex",
                          app="f", executor_task_id=t + 100, started=t0 + 3 * t)
            events.add_at(t0 + 3 * t + 0.9, "completed", t)
            if len(events) >= 500:
                events.flush()
        logger.info("an INFO line with no task")
        events.flush()

    def interchange() -> None:
        events = TaskEvents(logger)
        for t in range(tasks):
            events.add_at(t0 + 3 * t + 0.2, "ix_received", t, executor_task_id=t + 100)
            if len(events) >= 500:
                events.flush()
        events.flush()

    def worker() -> None:
        for t in range(tasks):
            record = logger.makeRecord(logger.name, TASK_EVENTS, __file__, 0, "Ran task %s",
                                       (t,), None, extra={
                                           "task_id": t, "executor_task_id": t + 100,
                                           "event": "worker_end",
                                           "started": t0 + 3 * t + 0.5})
            record.created = t0 + 3 * t + 0.7
            record.msecs = (record.created % 1) * 1000
            logger.handle(record)

    cfg = config_type(level=TASK_EVENTS)
    _write(cfg, run, "parsl", dfk, run_id="r1")
    _write(cfg, run / "htex", "interchange", interchange, run_id="r1", executor="htex")
    _write(cfg, run / "htex" / "block-0" / "m1", "worker_0", worker, run_id="r1",
           executor="htex", block_id="0", manager_id="m1", worker_id=0)


@pytest.mark.parametrize("config_type", [JSONLogging, FileLogging])
def test_timeline_merges_processes_and_restores_folded_events(
        config_type: type, tmp_path: pathlib.Path) -> None:
    _fake_run(config_type, tmp_path, 3)
    records = task_records(str(tmp_path), 1)
    assert [(r.process, r.context["event"]) for r in records if r.context.get("event")] == [
        ("parsl", "submitted"), ("parsl", "launched"), ("htex/interchange", "ix_received"),
        ("htex/block-0/m1/worker_0", "worker_start"),
        ("htex/block-0/m1/worker_0", "worker_end"), ("parsl", "completed")]
    worker_start = records[3]
    assert worker_start.time == pytest.approx(records[0].time + 0.5)
    assert worker_start.context["try_id"] == 0
    assert worker_start.context["manager_id"] == "m1"


def test_text_context_pairs_are_split_from_the_message() -> None:
    message, context = split_context("Sent task 3 to x=1 task_id=3 executor=htex started=1.5")
    assert message == "Sent task 3 to x=1"
    assert context == {"task_id": 3, "executor": "htex", "started": 1.5}


def test_latency_groups_and_orders_events_causally(tmp_path: pathlib.Path) -> None:
    _fake_run(JSONLogging, tmp_path, 20)
    groups = compute(str(tmp_path))
    assert len(groups) == 1
    (app, executor, path), group = next(iter(groups.items()))
    assert (app, executor, group.count) == ("f", "htex", 20)
    assert path == ("submitted", "launched", "ix_received", "worker_start", "worker_end",
                    "completed")
    launch_step = group.steps[0]
    assert list(launch_step) == pytest.approx([0.1] * 20)


def test_timeline_memory_follows_one_task_not_the_run(tmp_path: pathlib.Path) -> None:
    _fake_run(JSONLogging, tmp_path, 4000)
    files = find_log_files(str(tmp_path))
    size = sum(pathlib.Path(f.path).stat().st_size for f in files)
    tracemalloc.start()
    try:
        records = task_records(str(tmp_path), 3210, files)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(records) == 6
    assert size > 1_500_000
    assert peak < 1_000_000, f"peak {peak} bytes while reading {size} bytes of logs"


def test_run_dir_without_logs_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no \*\.log or \*\.jsonlog"):
        find_log_files(str(tmp_path))
