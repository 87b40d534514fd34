"""The worker's optional per-task observer (used by parsl-monitoring): built from its
token, and never a reason for a task to fail when it cannot be built."""
from __future__ import annotations

import base64
import json
import logging
import os
import select
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

from parsl_htex import _serial
from parsl_htex._protocol import RESULT_HEADER, task_header
from parsl_htex.worker import load_task_observer, run_worker


class RecordingObserver:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.events: List[Any] = []

    def task_started(self, htex_task_id: int, dfk_task_id: Optional[int]) -> None:
        self.events.append(("started", htex_task_id, dfk_task_id))

    def task_ended(self, htex_task_id: int, dfk_task_id: Optional[int], ok: bool,
                   ended: float) -> None:
        self.events.append(("ended", htex_task_id, dfk_task_id, ok))


def _token(spec: Dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(spec).encode()).decode()


def test_token_names_the_factory_and_its_config() -> None:
    token = _token({"factory": f"{__name__}:RecordingObserver", "config": {"x": 1}})
    observer = load_task_observer(token)
    assert isinstance(observer, RecordingObserver)
    assert observer.config == {"x": 1}


@pytest.mark.parametrize("token", ["not base64 json", _token({"factory": "no_such_module:f"})])
def test_an_observer_that_cannot_be_built_is_logged_and_skipped(
        token: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="parsl_htex.worker"):
        assert load_task_observer(token) is None
    assert "running without it" in caplog.text


class BlockingEndObserver:
    """An observer whose ``task_ended`` waits until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ended: List[Any] = []

    def task_started(self, htex_task_id: int, dfk_task_id: Optional[int]) -> None:
        pass

    def task_ended(self, htex_task_id: int, dfk_task_id: Optional[int], ok: bool,
                   ended: float) -> None:
        self.release.wait(30)
        self.ended.append((htex_task_id, dfk_task_id, ok, ended))


def _read_exactly(fd: int, size: int, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < size:
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([fd], [], [], max(0.0, remaining))
        if not readable:
            raise TimeoutError(f"read {len(data)} of {size} bytes in {timeout} s")
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError(f"pipe closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def test_the_result_is_written_before_the_observer_hears_the_task_ended() -> None:
    """task_ended runs off the result's path: a slow one does not hold the result back,
    and it still gets the time the task ended, not the time it was called."""
    task_r, task_w = os.pipe()
    result_r, result_w = os.pipe()
    observer = BlockingEndObserver()
    worker = threading.Thread(target=run_worker, args=(task_r, result_w, 0, None, observer),
                              daemon=True)
    worker.start()
    try:
        payload = _serial.pack_apply_message(divmod, (7, 2), {})
        before = time.time()
        os.write(task_w, task_header(5, 9, len(payload)) + payload)
        header = _read_exactly(result_r, RESULT_HEADER.size, timeout=10)
        htex_id, dfk_id, tag, length = RESULT_HEADER.unpack(header)
        result = _serial.deserialize(_read_exactly(result_r, length, timeout=10))
        assert (htex_id, dfk_id, tag, result) == (5, 9, _serial.RESULT_OK, (3, 1))
        assert observer.ended == []  # still blocked in task_ended
        released = time.time()
        observer.release.set()
    finally:
        observer.release.set()
        os.close(task_w)  # EOF: the worker loop returns
        worker.join(30)
        for fd in (result_r, result_w):
            os.close(fd)
    assert not worker.is_alive()
    [(ended_htex_id, ended_dfk_id, ok, ended)] = observer.ended
    assert (ended_htex_id, ended_dfk_id, ok) == (5, 9, True)
    assert before <= ended <= released
