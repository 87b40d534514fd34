"""Each run leaves runinfo/NNN with parsl.log and submit_scripts; logging helpers work."""
from __future__ import annotations

import io
import logging
import os

import parsl
from parsl.config import Config


@parsl.python_app
def ok():
    return 1


@parsl.python_app
def fails():
    raise KeyError("missing-key")


def test_run_directories_are_numbered(run_dir):
    for expected in ("000", "001"):
        with parsl.load(Config(run_dir=run_dir)) as dfk:
            assert dfk.run_dir == os.path.join(os.path.abspath(run_dir), expected)
            assert os.path.exists(os.path.join(dfk.run_dir, "parsl.log"))


def test_parsl_log_records_lifecycle_and_failures_with_task_ids(run_dir):
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        fut = fails()
        fut.exception(timeout=10)
        log_path = os.path.join(dfk.run_dir, "parsl.log")
    text = open(log_path).read()
    assert "Starting DataFlowKernel" in text
    assert "DFK cleanup complete" in text
    failure_lines = [line for line in text.splitlines() if "missing-key" in line]
    assert failure_lines and f"task_id={fut.tid}" in failure_lines[0]


def test_debug_log_level_adds_per_task_lines(run_dir):
    with parsl.load(Config(run_dir=run_dir, log_level=logging.DEBUG)) as dfk:
        fut = ok()
        fut.result(timeout=10)
        log_path = os.path.join(dfk.run_dir, "parsl.log")
    # Per-task events are written in batches (parsl.log_context.TaskEvents); the
    # reader behind `parsl logs` gives them back one per event.
    from parsl.logview.records import LogFile

    events = [r.context["event"] for r in LogFile(log_path, dfk.run_dir).records()
              if r.context.get("task_id") == fut.tid and "event" in r.context]
    assert events == ["submitted", "launched", "completed"]


def test_initialize_logging_false_writes_no_log(run_dir):
    with parsl.load(Config(run_dir=run_dir, initialize_logging=False)) as dfk:
        ok().result(timeout=10)
        assert not os.path.exists(os.path.join(dfk.run_dir, "parsl.log"))


def test_set_stream_logger_writes_parsl_records(run_dir):
    stream = io.StringIO()
    detach = parsl.set_stream_logger(stream=stream, level=logging.INFO)
    with parsl.load(Config(run_dir=run_dir, initialize_logging=False)):
        pass
    detach()
    logging.getLogger("parsl.test").warning("after detaching")
    assert "Starting DataFlowKernel" in stream.getvalue()
    assert "after detaching" not in stream.getvalue()


def test_set_file_logger_writes_to_file(tmp_path):
    path = tmp_path / "custom.log"
    detach = parsl.set_file_logger(str(path), level=logging.INFO)
    logging.getLogger("parsl.test").info("hello %s", "file", extra={"task_id": 7})
    detach()
    logging.getLogger("parsl.test").info("after detaching")
    assert "hello file task_id=7" in path.read_text()
    assert "after detaching" not in path.read_text()


def test_block_executor_provider_gets_submit_scripts_dir(run_dir):
    from parsl.providers.local.local import LocalProvider

    provider = LocalProvider(init_blocks=0, min_blocks=0, max_blocks=0)

    class HasProvider(parsl.ThreadPoolExecutor):
        def __init__(self):
            super().__init__(label="with_provider")
            self.provider = provider

    dfk = parsl.load(Config(executors=[HasProvider()], run_dir=run_dir, strategy="none"))
    try:
        assert provider.script_dir == os.path.join(dfk.run_dir, "submit_scripts")
        assert os.path.isdir(provider.script_dir)
    finally:
        dfk.cleanup()


def test_parsl_log_lines_start_with_epoch_seconds_as_parsls_do(run_dir):
    """Parsl's own checkpoint test reads ``float(line.partition(" ")[0])`` from parsl.log."""
    import time

    before = time.time()
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        ok().result(timeout=30)
        log_path = os.path.join(dfk.run_dir, "parsl.log")
    after = time.time()
    lines = [line for line in open(log_path) if "Starting DataFlowKernel" in line]
    stamp = float(lines[0].partition(" ")[0])
    assert before - 1 <= stamp <= after + 1


def test_parsl_log_lines_with_epoch_seconds_keep_the_key_value_suffix(run_dir):
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        log_path = os.path.join(dfk.run_dir, "parsl.log")
    first = open(log_path).readline()
    assert first.rstrip("\n").endswith(f"run_id={dfk.run_id}")
