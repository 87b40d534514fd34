"""parsl.utils.Timer: periodic calls on a fixed schedule, and what closing does."""
from __future__ import annotations

import threading
import time
from typing import List

from parsl.utils import Timer


def test_timer_calls_repeatedly_until_closed() -> None:
    calls: List[float] = []
    third = threading.Event()

    def tick() -> None:
        calls.append(time.monotonic())
        if len(calls) >= 3:
            third.set()

    timer = Timer(tick, interval=0.05)
    assert third.wait(30), "timer did not call three times"
    timer.close()
    count = len(calls)
    assert not timer._thread.is_alive()
    assert len(calls) == count


def test_close_with_run_due_makes_a_call_that_fell_due_while_stopping() -> None:
    calls: List[str] = []
    timer = Timer(lambda: calls.append("pass"), interval=3600)
    timer._next_due = time.monotonic()  # due now; the thread still sleeps its hour
    timer.close(run_due=True)
    assert calls == ["pass"]


def test_close_with_run_due_makes_no_call_that_is_not_due() -> None:
    calls: List[str] = []
    timer = Timer(lambda: calls.append("pass"), interval=3600)
    timer.close(run_due=True)
    assert calls == []


def test_plain_close_drops_a_due_call() -> None:
    calls: List[str] = []
    timer = Timer(lambda: calls.append("pass"), interval=3600)
    timer._next_due = time.monotonic()
    timer.close()
    assert calls == []


def test_a_slow_call_skips_missed_times_instead_of_piling_up() -> None:
    calls: List[float] = []
    release = threading.Event()
    second = threading.Event()

    def tick() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            release.wait(30)  # overrun several intervals
        else:
            second.set()

    timer = Timer(tick, interval=0.05)
    deadline = time.monotonic() + 30
    while not calls:
        assert time.monotonic() < deadline, "first call never made"
        time.sleep(0.01)
    blocked_until = time.monotonic() + 0.3
    while time.monotonic() < blocked_until:
        time.sleep(0.01)
    release.set()
    assert second.wait(30)
    timer.close()
    # after the overrun, calls keep their spacing instead of catching up on every
    # missed interval at once
    gaps = [b - a for a, b in zip(calls[1:], calls[2:])]
    assert all(gap >= 0.025 for gap in gaps), gaps
