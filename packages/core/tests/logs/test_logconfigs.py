"""Config(initialize_logging=...) and the parsl.logconfigs classes, on a threads DFK."""
from __future__ import annotations

import json
import logging
import pathlib
import pickle
from typing import Any, Dict, List

import pytest
from root_handlers import without_root_handlers

import parsl
from parsl.config import Config
from parsl.errors import BadParameter
from parsl.log_context import TASK_EVENTS
from parsl.logconfigs import (
    FileLogging,
    JSONLogging,
    LogConfig,
    NoopLogging,
    oneshot_initialize_logging,
    oneshot_uninitialize_logging,
)
from parsl.logview.records import LogFile, Record


@parsl.python_app
def double(x: int) -> int:
    return 2 * x


def _run(run_dir: str, setting: object) -> pathlib.Path:
    with parsl.load(Config(run_dir=run_dir, initialize_logging=setting)) as dfk:  # type: ignore[arg-type]
        assert double(double(1)).result(timeout=30) == 4
        return pathlib.Path(dfk.run_dir)


def test_default_writes_parsl_log(run_dir: str) -> None:
    assert (_run(run_dir, True) / "parsl.log").exists()


def test_false_writes_no_parsl_log(run_dir: str) -> None:
    assert not (_run(run_dir, False) / "parsl.log").exists()


def test_noop_logging_writes_no_log_file(run_dir: str) -> None:
    folder = _run(run_dir, NoopLogging())
    assert not list(folder.glob("parsl.*log"))


def test_file_logging_uses_the_format_string(run_dir: str) -> None:
    folder = _run(run_dir, FileLogging(format_string="XXYY %(message)s"))
    lines = (folder / "parsl.log").read_text().splitlines()
    assert lines and all(line.startswith("XXYY ") for line in lines)


def _json_lines(folder: pathlib.Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (folder / "parsl.jsonlog").read_text().splitlines()]


def _events(folder: pathlib.Path, name: str) -> List[Record]:
    return [r for r in LogFile(str(folder / name), str(folder)).records()
            if r.context.get("event")]


def test_json_logging_writes_one_object_per_line_with_template_and_context(
        run_dir: str) -> None:
    folder = _run(run_dir, JSONLogging(level=TASK_EVENTS))
    records = _json_lines(folder)
    start = records[0]
    assert start["msg"] == "Starting DataFlowKernel run_id=%s run_dir=%s"
    assert start["formatted"] == f"Starting DataFlowKernel run_id={start['run_id']} " \
                                 f"run_dir={folder}"
    assert {"created", "process", "threadName", "pathname", "lineno", "levelname"} <= \
        start.keys()


def test_json_logging_writes_per_task_events_in_batches(run_dir: str) -> None:
    folder = _run(run_dir, JSONLogging(level=TASK_EVENTS))
    batches = [r for r in _json_lines(folder) if "task_events" in r]
    entries = [e for r in batches for e in r["task_events"]]
    assert all(r["levelname"] == "TASK" and r["run_id"] for r in batches)
    submitted = [e for e in entries if e["event"] == "submitted"]
    # only the task with a dependency has a submitted event of its own
    assert [(e["task_id"], e["app"], e["depends"]) for e in submitted] == [(1, "double", [0])]
    launched0 = [e for e in entries if e["event"] == "launched" and e["task_id"] == 0]
    assert launched0[0]["app"] == "double" and launched0[0]["started"] <= launched0[0]["time"]


def test_readers_restore_the_folded_submitted_event(run_dir: str) -> None:
    folder = _run(run_dir, JSONLogging(level=TASK_EVENTS))
    task0 = [r.context["event"] for r in _events(folder, "parsl.jsonlog")
             if r.context.get("task_id") == 0]
    assert task0 == ["submitted", "launched", "completed"]


def test_json_logging_keeps_parsl_prefixed_extra_fields(run_dir: str) -> None:
    with parsl.load(Config(run_dir=run_dir, initialize_logging=JSONLogging())) as dfk:
        logging.getLogger("parsl.test").info("with extra", extra={"parsl.somekey": "vv"})
        path = pathlib.Path(dfk.run_dir) / "parsl.jsonlog"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["parsl.somekey"] for r in records if r["msg"] == "with extra"] == ["vv"]


def test_task_events_level_records_events_without_debug_lines(run_dir: str) -> None:
    folder = _run(run_dir, FileLogging(level=TASK_EVENTS))
    text = (folder / "parsl.log").read_text()
    assert '"event":"launched"' in text and '"event":"completed"' in text
    assert " DEBUG: " not in text


def test_info_level_default_has_no_per_task_events(run_dir: str) -> None:
    text = (_run(run_dir, True) / "parsl.log").read_text()
    assert "task_events" not in text and "event=" not in text


def test_text_lines_carry_context_keys(run_dir: str) -> None:
    folder = _run(run_dir, FileLogging(level=TASK_EVENTS))
    text = (folder / "parsl.log").read_text()
    assert " run_id=" in text.splitlines()[0]
    launched = [r for r in _events(folder, "parsl.log")
                if r.context["event"] == "launched" and r.context["task_id"] == 0]
    assert launched[0].context["try_id"] == 0
    assert launched[0].context["executor"] == "threads"
    assert launched[0].context["run_id"]


class _CountingConfig(LogConfig):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.undone = 0

    def initialize_logging(self, *, log_dir: pathlib.Path, log_name: str):  # type: ignore[no-untyped-def]
        self.calls += 1

        def undo() -> None:
            self.undone += 1

        return undo


def test_user_log_config_is_initialized_once_and_undone_after_last_reference(
        tmp_path: pathlib.Path) -> None:
    config = _CountingConfig()
    oneshot_initialize_logging(log_config=config, log_dir=tmp_path, log_name="a")
    oneshot_initialize_logging(log_config=config, log_dir=tmp_path, log_name="b")
    oneshot_uninitialize_logging(log_config=config)
    assert (config.calls, config.undone) == (1, 0)
    oneshot_uninitialize_logging(log_config=config)
    assert config.undone == 1


def test_user_log_config_is_used_by_the_dfk(run_dir: str) -> None:
    config = _CountingConfig()
    _run(run_dir, config)
    assert (config.calls, config.undone) == (1, 1)


def test_uninitializing_too_often_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        oneshot_uninitialize_logging(log_config=NoopLogging())


def test_log_configs_survive_pickling_with_their_identity() -> None:
    config = JSONLogging(level=TASK_EVENTS)
    copy = pickle.loads(pickle.dumps(config))
    assert (copy.uuid, copy.level) == (config.uuid, TASK_EVENTS)


def test_initialize_logging_of_another_type_is_refused() -> None:
    with pytest.raises(BadParameter, match="initialize_logging"):
        Config(initialize_logging="yes")  # type: ignore[arg-type]


@pytest.fixture
def parsl_logger_unset():
    """The ``parsl`` and root loggers as a fresh process has them, restored afterwards."""
    parsl_logger, root = logging.getLogger("parsl"), logging.getLogger()
    saved = (parsl_logger.level, root.level)
    parsl_logger.setLevel(logging.NOTSET)
    root.setLevel(logging.WARNING)
    yield parsl_logger
    parsl_logger.setLevel(saved[0])
    root.setLevel(saved[1])


@pytest.mark.parametrize("setting", [True, FileLogging(level=logging.INFO),
                                     JSONLogging(level=TASK_EVENTS)],
                         ids=["default", "file", "json"])
def test_cleanup_gives_parsl_loggers_back_their_level_and_handlers(
        run_dir: str, parsl_logger_unset: logging.Logger, setting: object) -> None:
    root = logging.getLogger()
    handlers_before = (list(parsl_logger_unset.handlers), list(root.handlers))
    _run(run_dir, setting)
    assert parsl_logger_unset.level == logging.NOTSET
    assert root.level == logging.WARNING
    assert (parsl_logger_unset.handlers, root.handlers) == handlers_before


def test_after_cleanup_debug_records_of_parsl_reach_a_debug_root_handler(
        run_dir: str, parsl_logger_unset: logging.Logger,
        caplog: pytest.LogCaptureFixture) -> None:
    """What Parsl's test_wrap_with_logs_ok needs after an earlier test ran a DFK."""
    _run(run_dir, FileLogging(level=logging.INFO))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("parsl.process_loggers").debug("Normal ending for somefunc")
    assert "Normal ending" in caplog.text


def test_a_run_inside_another_log_configuration_keeps_the_outer_level(
        tmp_path: pathlib.Path, parsl_logger_unset: logging.Logger) -> None:
    outer, inner = FileLogging(level=logging.INFO), FileLogging(level=logging.DEBUG)
    oneshot_initialize_logging(log_config=outer, log_dir=tmp_path, log_name="outer")
    oneshot_initialize_logging(log_config=inner, log_dir=tmp_path, log_name="inner")
    oneshot_uninitialize_logging(log_config=inner)
    assert logging.NOTSET < parsl_logger_unset.level <= logging.INFO  # outer still needs it
    oneshot_uninitialize_logging(log_config=outer)
    assert parsl_logger_unset.level == logging.NOTSET


def test_initialized_configs_are_kept_under_parsls_private_names(
        tmp_path: pathlib.Path) -> None:
    """Parsl's own test_oneshot inspects ``_initialized_log_contexts[uuid].uninit_callback``."""
    from parsl.logconfigs import base

    config = _CountingConfig()
    oneshot_initialize_logging(log_config=config, log_dir=tmp_path, log_name="a")
    callback = base._initialized_log_contexts[config.uuid].uninit_callback
    callback()
    assert config.undone == 1
    base._initialized_log_contexts[config.uuid].uninit_callback = lambda: None
    oneshot_uninitialize_logging(log_config=config)
    assert config.uuid not in base._initialized_log_contexts


def test_a_run_that_fails_to_start_leaves_parsl_loggers_as_they_were(
        run_dir: str, parsl_logger_unset: logging.Logger) -> None:
    from parsl.executors.threads import ThreadPoolExecutor

    class _Unstartable(ThreadPoolExecutor):
        def start(self) -> None:
            raise RuntimeError("this executor cannot start")

    handlers_before = list(parsl_logger_unset.handlers)
    with pytest.raises(RuntimeError, match="cannot start"):
        parsl.load(Config(run_dir=run_dir, executors=[_Unstartable(label="broken")]))
    parsl.clear()
    assert parsl_logger_unset.handlers == handlers_before
    assert parsl_logger_unset.level == logging.NOTSET


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=0)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_task_events_summarize_state_changes_with_parsls_record_attributes(
        run_dir: str) -> None:
    """Readers of Parsl's per-change ``parsl.task_state`` records find one record per
    state reached in each flushed batch, naming the tasks."""
    keep = _Keep()
    logging.getLogger("parsl").addHandler(keep)
    try:
        with parsl.load(Config(run_dir=run_dir,
                               initialize_logging=FileLogging(level=TASK_EVENTS))) as dfk:
            assert [double(i).result(timeout=30) for i in range(3)] == [0, 2, 4]
            run_id = dfk.run_id
    finally:
        logging.getLogger("parsl").removeHandler(keep)
    states = {r.__dict__["parsl.task_state"]: r.getMessage() for r in keep.records
              if "parsl.task_state" in r.__dict__}
    assert {"pending", "launched", "exec_done"} <= states.keys()
    assert states["exec_done"] == "3 tasks changed state to exec_done: 0-2"
    assert all(r.__dict__["parsl.dfk"] == run_id for r in keep.records
               if "parsl.task_state" in r.__dict__)


def _parsl_records(records: List[logging.LogRecord], tid: int) -> List[logging.LogRecord]:
    return [r for r in records if r.__dict__.get("parsl.task") == tid]


def test_with_a_root_handler_each_task_gets_parsls_records(run_dir: str) -> None:
    keep = _Keep()
    logging.root.addHandler(keep)
    try:
        with parsl.load(Config(run_dir=run_dir)):
            first = double(1)
            second = double(first)
            assert second.result(timeout=30) == 4
    finally:
        logging.root.removeHandler(keep)
    mine = _parsl_records(keep.records, second.tid)
    assert [r.__dict__["parsl.dependency_task"] for r in mine
            if "parsl.dependency_task" in r.__dict__] == [first.tid]
    assert [r.__dict__["parsl.app_name"] for r in mine
            if "parsl.app_name" in r.__dict__] == ["double"]
    assert [r.__dict__["parsl.task_state"] for r in mine
            if "parsl.task_state" in r.__dict__] == ["pending", "launched", "exec_done"]
    assert [r.__dict__["parsl.executor"] for r in mine
            if "parsl.executor" in r.__dict__] == ["threads"]


@parsl.python_app
def _fails() -> None:
    raise ZeroDivisionError("on purpose")


def test_a_failed_task_reaches_parsls_failed_state_record(run_dir: str) -> None:
    keep = _Keep()
    logging.root.addHandler(keep)
    try:
        with parsl.load(Config(run_dir=run_dir)):
            fut = _fails()
            assert isinstance(fut.exception(timeout=30), ZeroDivisionError)
    finally:
        logging.root.removeHandler(keep)
    states = [r.__dict__["parsl.task_state"] for r in _parsl_records(keep.records, fut.tid)
              if "parsl.task_state" in r.__dict__]
    assert states == ["pending", "launched", "failed"]


def test_without_a_root_handler_no_per_task_records_are_made(run_dir: str) -> None:
    keep = _Keep()
    logging.getLogger("parsl").addHandler(keep)
    try:
        with without_root_handlers(), parsl.load(Config(run_dir=run_dir)):
            fut = double(1)
            assert fut.result(timeout=30) == 2
    finally:
        logging.getLogger("parsl").removeHandler(keep)
    assert _parsl_records(keep.records, fut.tid) == []


def test_adding_an_executor_logs_its_label_and_parsls_type_name(run_dir: str) -> None:
    keep = _Keep()
    logging.getLogger("parsl").addHandler(keep)
    try:
        with parsl.load(Config(run_dir=run_dir)):
            pass
    finally:
        logging.getLogger("parsl").removeHandler(keep)
    added = {(r.__dict__["parsl.executor.label"], r.__dict__["parsl.executor.type"])
             for r in keep.records if "parsl.executor.label" in r.__dict__}
    assert ("threads", "parsl.executors.threads.ThreadPoolExecutor") in added


def test_json_logging_on_the_root_logger_does_not_turn_on_parsls_per_task_records(
        run_dir: str) -> None:
    """JSONLogging's own root handler is not a listener outside parsl's logs: the run
    keeps its batched events and makes no per-task records."""
    with without_root_handlers():
        folder = _run(run_dir, JSONLogging(level=TASK_EVENTS))
    records = _json_lines(folder)
    assert any("task_events" in r for r in records)
    assert not [r for r in records if "parsl.task" in r]
