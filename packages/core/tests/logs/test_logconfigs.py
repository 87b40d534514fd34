"""Config(initialize_logging=...) and the parsl.logconfigs classes, on a threads DFK."""
from __future__ import annotations

import json
import logging
import pathlib
import pickle

import pytest

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


def test_json_logging_writes_one_object_per_line_with_template_and_context(
        run_dir: str) -> None:
    folder = _run(run_dir, JSONLogging(level=TASK_EVENTS))
    records = [json.loads(line) for line in (folder / "parsl.jsonlog").read_text().splitlines()]
    submitted = [r for r in records if r.get("event") == "submitted"]
    assert len(submitted) == 2
    first = submitted[0]
    assert first["msg"] == "Task %s submitted app=%s executor=%s depends=%s"
    assert first["formatted"].startswith("Task 0 submitted app=double")
    assert (first["task_id"], first["app"], first["levelname"]) == (0, "double", "TASK")
    assert first["run_id"] == records[0]["run_id"]


def test_json_logging_keeps_parsl_prefixed_extra_fields(run_dir: str) -> None:
    with parsl.load(Config(run_dir=run_dir, initialize_logging=JSONLogging())) as dfk:
        logging.getLogger("parsl.test").info("with extra", extra={"parsl.somekey": "vv"})
        path = pathlib.Path(dfk.run_dir) / "parsl.jsonlog"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["parsl.somekey"] for r in records if r["msg"] == "with extra"] == ["vv"]


def test_task_events_level_records_events_without_debug_lines(run_dir: str) -> None:
    folder = _run(run_dir, FileLogging(level=TASK_EVENTS))
    text = (folder / "parsl.log").read_text()
    assert "event=launched" in text and "event=completed" in text
    assert " DEBUG: " not in text


def test_info_level_default_has_no_per_task_events(run_dir: str) -> None:
    text = (_run(run_dir, True) / "parsl.log").read_text()
    assert "event=" not in text


def test_text_lines_carry_context_keys(run_dir: str) -> None:
    text = (_run(run_dir, FileLogging(level=TASK_EVENTS)) / "parsl.log").read_text()
    launched = [line for line in text.splitlines() if "event=launched" in line]
    assert launched and "task_id=0 try_id=0" in launched[0]
    assert "executor=_parsl_internal" not in launched[0]
    assert " run_id=" in launched[0]


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
