"""Helpers for the parsl-taskvine tests: free ports, bounded polling, leftover processes."""
from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator, List, Optional

import polling
import psutil

CCTOOLS_PROGRAMS = ("vine_worker", "vine_factory", "work_queue_worker")
#: Command-line parts of processes that run tasks on a worker, or the manager process.
_TASK_SIDE = ("parsl_taskvine_runner", "cctools-monitor", "parsl_taskvine._manager",
              "library_code.py", "parsl_taskvine._coprocess")


#: Set by :func:`free_port` in this process's environment, so every manager, factory and
#: worker started afterwards carries the port it serves, even those whose command line
#: does not show it (a worker's transfer server).
PORT_TAG = "PARSL_TASKVINE_TEST_PORT"


def free_port() -> int:
    """A free port on loopback; tags processes started from now on with it."""
    port = polling.free_port()
    os.environ[PORT_TAG] = str(port)
    return port


def wait_for(condition: Callable[[], Any], timeout: float = 60,
             what: str = "condition") -> Any:
    """:func:`polling.wait_for` with this package's longer default bound."""
    return polling.wait_for(condition, timeout, what, interval=0.1)


def cctools_processes(port: int, extra_pids: Optional[List[int]] = None
                      ) -> List[psutil.Process]:
    """Live workers and factories serving ``port``, plus the given pids if alive."""
    found = []
    for p in psutil.process_iter(["pid", "name", "cmdline", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmd = p.info["cmdline"] or []
            is_cctools = any(os.path.basename(c).startswith(CCTOOLS_PROGRAMS)
                             for c in cmd[:1]) or (p.info["name"] or "").startswith(
                                 CCTOOLS_PROGRAMS)
            if p.pid in (extra_pids or []):
                found.append(p)
            elif is_cctools and str(port) in cmd:
                found.append(p)
            elif (is_cctools or any(part in " ".join(cmd) for part in _TASK_SIDE)) \
                    and p.environ().get(PORT_TAG) == str(port):
                found.append(p)
        except psutil.Error:
            continue
    return found


def assert_nothing_left(port: int, extra_pids: Optional[List[int]] = None,
                        timeout: float = 15) -> None:
    """Every worker, factory and manager process of the run is gone within ``timeout``."""
    def gone() -> bool:
        return not cctools_processes(port, extra_pids)

    try:
        wait_for(gone, timeout, "cctools processes to exit")
    except AssertionError:
        left = [(p.pid, " ".join(p.cmdline())) for p in cctools_processes(port, extra_pids)]
        raise AssertionError(f"processes left behind: {left}") from None


@contextlib.contextmanager
def loaded(executor: Any, tmp_path_factory: Any, port: int, **config: Any) -> Iterator[Any]:
    """Run ``executor`` in a DFK (no Parsl retries) for a module's tests; on the way out
    clean up and check that no worker, factory or manager process of ``port`` is left."""
    import parsl
    from parsl.config import Config

    run_dir = str(tmp_path_factory.mktemp(executor.label) / "runinfo")
    config.setdefault("retries", 0)
    dfk = parsl.load(Config(executors=[executor], run_dir=run_dir, **config))
    try:
        yield executor
    finally:
        dfk.cleanup()
        parsl.clear()
    assert_nothing_left(port)
