"""Small public helpers Parsl users import: process_loggers, app.python.timeout, utils."""
from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from parsl.app.errors import AppTimeout, BadStdStreamFile
from parsl.app.python import timeout
from parsl.process_loggers import wrap_with_logs
from parsl.utils import (
    AtomicIDCounter,
    AutoCancelTimer,
    RepresentationMixin,
    get_std_fname_mode,
    sanitize_dns_label_rfc1123,
    sanitize_dns_subdomain_rfc1123,
    time_limited_open,
)


def test_wrap_with_logs_logs_a_normal_ending_at_debug(caplog) -> None:
    @wrap_with_logs(target="parsl.test.wrap")
    def work() -> int:
        return 3

    with caplog.at_level(logging.DEBUG, logger="parsl.test.wrap"):
        assert work() == 3
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "Normal ending for work on thread" in caplog.records[0].getMessage()


def test_wrap_with_logs_logs_and_reraises_an_exception(caplog) -> None:
    @wrap_with_logs
    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        broken()
    (record,) = [r for r in caplog.records if r.name == "parsl.process_loggers"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and "Exceptional ending for broken" in \
        record.getMessage()


def test_timeout_raises_app_timeout_in_a_long_call() -> None:
    def spin() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pass

    limited = timeout(spin, 0.1)
    start = time.monotonic()
    with pytest.raises(AppTimeout):
        limited()
    assert time.monotonic() - start < 20


def test_timeout_keeps_the_function_name_and_result() -> None:
    def quick(x: int) -> int:
        return x + 1

    limited = timeout(quick, 5)
    assert limited.__name__ == "quick"
    assert limited(1) == 2


def test_time_limited_open_waits_for_a_file_written_later(tmp_path) -> None:
    path = tmp_path / "later.txt"

    def write() -> None:
        time.sleep(0.2)
        path.write_text("ready")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with time_limited_open(str(path), "r", seconds=20) as f:
            assert f.read() == "ready"
    finally:
        writer.join()


def test_time_limited_open_names_a_file_that_never_appears(tmp_path) -> None:
    missing = str(tmp_path / "never")
    with pytest.raises(FileNotFoundError, match=r"never did not appear within 0\.1 s"):
        with time_limited_open(missing, "r", seconds=0.1):
            pass


def test_std_fname_mode_accepts_path_like_and_mode_tuples(tmp_path) -> None:
    assert get_std_fname_mode("stdout", tmp_path / "o") == (os.fspath(tmp_path / "o"), "a+")
    assert get_std_fname_mode("stderr", ("e.txt", "w")) == ("e.txt", "w")


def test_std_fname_mode_rejects_a_bad_mode_naming_it() -> None:
    with pytest.raises(BadStdStreamFile, match="stdout mode 'r'"):
        get_std_fname_mode("stdout", ("o.txt", "r"))


class Thing(RepresentationMixin):
    def __init__(self, first: int, second: str = "two", *, third: float = 3.0) -> None:
        self.first = first
        self.second = second
        self.third = third


def test_representation_mixin_reads_like_the_constructor_call() -> None:
    assert repr(Thing(1, third=4.5)) == "Thing(1, second='two', third=4.5)"


def test_atomic_id_counter_never_repeats_across_threads() -> None:
    counter = AtomicIDCounter()
    ids: list = []
    threads = [threading.Thread(target=lambda: ids.extend(counter.get_id()
                                                          for _ in range(1000)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids) == list(range(4000))


def test_auto_cancel_timer_does_not_fire_when_the_block_ends_first() -> None:
    fired = threading.Event()
    with AutoCancelTimer(0.2, fired.set):
        pass
    assert not fired.wait(0.5)


def test_dns_sanitizers_follow_rfc1123() -> None:
    assert sanitize_dns_label_rfc1123("My_Pod--Name!") == "my-pod-name"
    assert sanitize_dns_subdomain_rfc1123("A.b_c..D") == "a.b-c.d"
    with pytest.raises(ValueError, match="empty"):
        sanitize_dns_label_rfc1123("___")
