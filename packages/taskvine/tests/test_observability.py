"""TaskVine and Work Queue tasks in ``parsl logs``: the manager process's records carry
the log context ids, and its per-task events put a task's life in one timeline.

Real runs (a factory-started vine_worker; a LocalProvider work_queue_worker) with
per-task events on; the tests read the run directory back with parsl.logview.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, Iterator, List

import pytest
import tv_apps
from tv_helpers import free_port, loaded

from parsl.cli import main as parsl_main
from parsl.executors import WorkQueueExecutor
from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig
from parsl.log_context import TASK_EVENTS
from parsl.logconfigs import FileLogging, JSONLogging
from parsl.logview.timeline import task_records
from parsl.providers import LocalProvider

pytestmark = pytest.mark.timeout(180)

LIFE = ["submitted", "launched", "cctools_submitted", "cctools_done", "completed"]


def _events(records: List[Any]) -> List[str]:
    return [r.context["event"] for r in records if "event" in r.context]


@pytest.fixture(scope="module")
def vine_run(tmp_path_factory: Any) -> Iterator[Dict[str, Any]]:
    """TaskVine, JSON logs at TASK_EVENTS: a task that runs and one cctools cannot take."""
    port = free_port()
    ex = TaskVineExecutor(
        label="vine_obs",
        manager_config=TaskVineManagerConfig(port=port, address="127.0.0.1"),
        factory_config=TaskVineFactoryConfig(cores=2, worker_timeout=60))
    with loaded(ex, tmp_path_factory, port,
                initialize_logging=JSONLogging(level=TASK_EVENTS)) as ex:
        ok = tv_apps.double(2)
        refused = tv_apps.double(3, parsl_resource_specification={"exec_mode": "serverless"})
        assert ok.result(timeout=90) == 4
        with pytest.raises(Exception, match="serverless"):
            refused.result(timeout=60)
        run_dir = ex.run_dir
    yield {"run_dir": run_dir, "ok": ok.tid, "refused": refused.tid}


@pytest.fixture(scope="module")
def wq_run(tmp_path_factory: Any) -> Iterator[Dict[str, Any]]:
    """Work Queue, text logs at TASK_EVENTS: one task."""
    port = free_port()
    ex = WorkQueueExecutor(label="wq_obs", port=port, address="127.0.0.1",
                           provider=LocalProvider(init_blocks=1, max_blocks=1))
    with loaded(ex, tmp_path_factory, port,
                initialize_logging=FileLogging(level=TASK_EVENTS)) as ex:
        ok = tv_apps.double(5)
        assert ok.result(timeout=90) == 10
        run_dir = ex.run_dir
    yield {"run_dir": run_dir, "ok": ok.tid}


def test_taskvine_timeline_shows_the_task_life_across_dfk_and_manager(
        vine_run: Dict[str, Any]) -> None:
    records = task_records(vine_run["run_dir"], vine_run["ok"])
    assert _events(records) == LIFE
    assert {r.process for r in records} == {"parsl", "vine_obs/manager"}
    assert all(r.context["task_id"] == vine_run["ok"] for r in records)


def test_taskvine_manager_events_carry_every_context_key(vine_run: Dict[str, Any]) -> None:
    everything = task_records(vine_run["run_dir"], vine_run["ok"])
    records = [r for r in everything if r.process == "vine_obs/manager"]
    launched = next(r for r in everything if r.context.get("event") == "launched")
    for r in records:
        assert {"run_id", "task_id", "try_id", "executor",
                "executor_task_id"} <= r.context.keys()
        assert r.context["executor"] == "vine_obs" and r.context["try_id"] == 0
        assert r.context["executor_task_id"] == launched.context["executor_task_id"]
    done = next(r for r in records if r.context.get("event") == "cctools_done")
    assert done.context["worker_id"].startswith("127.0.0.1:")


def test_taskvine_manager_record_of_a_refused_task_names_it(vine_run: Dict[str, Any]) -> None:
    path = pathlib.Path(vine_run["run_dir"]) / "vine_obs" / "manager.jsonlog"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    refused = [r for r in lines if r["msg"] == "could not submit task %s"]
    assert len(refused) == 1
    assert refused[0]["task_id"] == vine_run["refused"] and refused[0]["try_id"] == 0
    assert refused[0]["executor"] == "vine_obs" and "run_id" in refused[0]


def test_work_queue_text_timeline_shows_the_task_life(wq_run: Dict[str, Any]) -> None:
    records = task_records(wq_run["run_dir"], wq_run["ok"])
    assert _events(records) == LIFE
    assert (pathlib.Path(wq_run["run_dir"]) / "wq_obs" / "manager.log").exists()


def test_timeline_command_prints_the_manager_process_events(wq_run: Dict[str, Any],
                                                            capsys: Any) -> None:
    assert parsl_main(["logs", "timeline", wq_run["run_dir"], str(wq_run["ok"])]) == 0
    out = capsys.readouterr().out
    assert "wq_obs/manager" in out and "cctools_done" in out


def test_latency_puts_the_manager_process_steps_in_order(vine_run: Dict[str, Any]) -> None:
    from parsl.logview.latency import compute

    groups = compute(vine_run["run_dir"])
    group = groups[("double", "vine_obs", tuple(LIFE))]
    assert group.count == 1 and all(len(step) == 1 for step in group.steps)
    assert all(step[0] >= 0 for step in group.steps)
