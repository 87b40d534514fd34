"""The workflow row is closed also when the run ends by Ctrl-C (a real interpreter, a real
SIGINT)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from monitoring_support import TESTS_DIR, query

SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{tests!r}, {support!r}]
    import parsl
    from monitoring_support import threads_config
    import monitoring_test_tasks as tasks

    sleepy = parsl.python_app(tasks.sleepy)
    with parsl.load(threads_config({run_dir!r}, {url!r})):
        sleepy(0).result()
        print("ready", flush=True)
        while True:
            sleepy(0.01).result()
""")


@pytest.mark.slow
@pytest.mark.parametrize("whole_group", [False, True], ids=["to-the-script", "terminal"])
def test_ctrl_c_still_records_the_end_of_the_run(tmp_path: Any, whole_group: bool) -> None:
    """Ctrl-C in a terminal signals the whole foreground process group; the writer process
    lives in its own session, so it is still there to record the end of the run."""
    url = f"sqlite:///{tmp_path}/monitoring.db"
    support = os.path.join(TESTS_DIR, "..", "..", "core", "tests", "_support")
    script = SCRIPT.format(tests=TESTS_DIR, support=support,
                           run_dir=str(tmp_path / "runinfo"), url=url)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        if whole_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    row = query(url, "SELECT * FROM workflow")[0]
    assert row["time_completed"] is not None
    assert "KeyboardInterrupt" in row["end_reason"]
    assert row["tasks_completed_count"] >= 1
