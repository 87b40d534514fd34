"""The HTEX worker's monitoring observer: how it dates a try's end and its samples.

The HTEX worker tells the observer that a task ended only after writing the result (see
``parsl_htex.worker.TaskObserver``), passing the time the task ended.
"""
from __future__ import annotations

import threading
import time
from typing import Any, List

from parsl_monitoring.batches import decode_batch
from parsl_monitoring.fields import INDEX
from parsl_monitoring.remote import WorkerMonitor


def _monitor(sent: List[bytes]) -> WorkerMonitor:
    """A resource-sampling observer whose batches land in ``sent``. Built on a thread
    other than the main one, so it leaves this process's SIGTERM handler alone; its own
    tick (every 30 s) does not come during a test."""
    built: List[WorkerMonitor] = []
    config = {"radio": {"kind": "htex"}, "resource_interval": 30, "flush_period": 60}
    maker = threading.Thread(target=lambda: built.append(WorkerMonitor(config)))
    maker.start()
    maker.join(30)
    [monitor] = built
    assert monitor.attach_result_channel(sent.append)
    return monitor


def _events(monitor: WorkerMonitor, sent: List[bytes]) -> List[Any]:
    monitor.close()
    return [event for payload in sent for event in decode_batch(payload)]


def test_the_end_is_dated_when_the_task_ended_not_when_the_observer_heard() -> None:
    sent: List[bytes] = []
    monitor = _monitor(sent)
    monitor.task_started(4, 2)
    ended = time.time()  # then the worker writes the result, then tells the observer
    monitor.task_ended(4, 2, True, ended)
    events = _events(monitor, sent)
    [end] = [e for e in events if e[0] == "ended"]
    [sample] = [e for e in events if e[0] == "resource"]
    assert tuple(end) == ("ended", 4, 2, ended, True)
    assert sample[3][INDEX["timestamp"]] == ended and sample[3][INDEX["final"]] is True


def test_a_sample_taken_after_the_end_keeps_the_trys_samples_in_time_order() -> None:
    sent: List[bytes] = []
    monitor = _monitor(sent)
    monitor.task_started(5, 3)
    ended = time.time()
    with monitor._lock:  # the sender's tick, between the task's end and task_ended
        assert monitor._current is not None
        monitor._quick_sample(monitor._current, ended + 0.5, final=False)
    monitor.task_ended(5, 3, True, ended)
    events = _events(monitor, sent)
    stamps = [e[3][INDEX["timestamp"]] for e in events if e[0] == "resource"]
    assert len(stamps) == 2 and stamps == sorted(stamps)
    assert [e[3] for e in events if e[0] == "ended"] == [ended]
