"""The context-key convention of parsl.log_context, through the real formatters."""
from __future__ import annotations

import io
import json
import logging
import pathlib

import pytest

from parsl.log_context import ids, set_process_context
from parsl.log_utils import ParslFormatter
from parsl.logconfigs import JSONLogging

logger = logging.getLogger("parsl.test.log_context")


def _text(record_fn) -> str:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ParslFormatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        record_fn()
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_text_lines_end_with_context_pairs_in_convention_order() -> None:
    text = _text(lambda: logger.info("hello", extra={"worker_id": 3, "task_id": 7}))
    assert text == "hello task_id=7 worker_id=3\n"


def test_ids_block_reaches_records_of_code_that_cannot_be_given_them() -> None:
    with ids(executor="htex", block_id="4"):
        text = _text(lambda: logger.info("submitted a job", extra={"job_id": "99"}))
    assert text == "submitted a job executor=htex block_id=4 job_id=99\n"
    assert _text(lambda: logger.info("after")) == "after\n"


def test_process_context_is_on_every_record_and_removable() -> None:
    set_process_context(run_id="r9", manager_id="m")
    try:
        assert _text(lambda: logger.info("x", extra={"task_id": 1})) == \
            "x run_id=r9 task_id=1 manager_id=m\n"
    finally:
        set_process_context(run_id=None, manager_id=None)
    assert _text(lambda: logger.info("y")) == "y\n"


def test_unknown_context_key_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown context key 'taskid'.*task_id"):
        set_process_context(taskid=1)
    with pytest.raises(ValueError, match="taskid"):
        with ids(taskid=1):
            pass


def test_json_records_carry_ambient_ids(tmp_path: pathlib.Path) -> None:
    undo = JSONLogging(level=logging.INFO).initialize_logging(log_dir=tmp_path, log_name="t")
    try:
        with ids(executor="htex", block_id="2"):
            logger.info("in block")
    finally:
        undo()
    (line,) = [json.loads(x) for x in (tmp_path / "t.jsonlog").read_text().splitlines()
               if "in block" in x]
    assert (line["executor"], line["block_id"]) == ("htex", "2")
