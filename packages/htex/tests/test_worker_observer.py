"""The worker's optional per-task observer (used by parsl-monitoring): built from its
token, and never a reason for a task to fail when it cannot be built."""
from __future__ import annotations

import base64
import json
import logging
from typing import Any, Dict, List, Optional

import pytest

from parsl_htex.worker import load_task_observer


class RecordingObserver:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.events: List[Any] = []

    def task_started(self, htex_task_id: int, dfk_task_id: Optional[int]) -> None:
        self.events.append(("started", htex_task_id, dfk_task_id))

    def task_ended(self, htex_task_id: int, dfk_task_id: Optional[int], ok: bool) -> None:
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
