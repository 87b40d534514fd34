"""A worker process: runs one task at a time for its manager.

Started by the manager (``python -m parsl_htex.worker``), one per worker slot, with its
environment already prepared (``PARSL_WORKER_RANK``, ``PARSL_WORKER_COUNT``,
``PARSL_WORKER_POOL_ID``, accelerator pinning) and two inherited pipes: task records
arrive on one, result records leave on the other (see :mod:`parsl_htex._protocol`). The
result is serialized here, in the worker, so a result that cannot be pickled fails only
its own task.

The worker dies with its manager: it asks the kernel for SIGKILL when its parent exits,
and it exits when its task pipe reaches EOF.

A monitoring plugin can observe each task here, where it runs, by setting the executor's
``worker_task_observer`` (see :func:`load_task_observer`); without one the loop below pays
two ``is None`` tests per task. The observer hears of a task's end after its result is
written, so its bookkeeping does not delay the result (see :class:`TaskObserver`).
"""
from __future__ import annotations

import argparse
import base64
import ctypes
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, List, Optional, Protocol, Tuple

from parsl.log_context import FLUSH_PERIOD, TASK_EVENTS, TaskEvents
from parsl_htex import _serial
from parsl_htex._logs import load_log_config, setup_process_logging
from parsl_htex._pipes import read_record, write_all
from parsl_htex._protocol import (
    KEY_SIZE,
    MAX_PAYLOAD,
    MONITORING,
    MONITORING_KEY,
    TASK_HEADER,
    key_ids,
    result_header,
)

logger = logging.getLogger("parsl_htex.worker")

_PR_SET_PDEATHSIG = 1
#: Longest an observer's send waits for the result pipe (seconds).
_CHANNEL_WAIT = 5.0


def _die_with_parent(expected_parent: int) -> None:
    """Have the kernel kill this process when the manager dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as e:
        logger.info("Cannot ask to die with the manager (%s); relying on pipe EOF", e)
    if os.getppid() != expected_parent:
        logger.error("Manager (pid %d) exited before this worker started; exiting",
                     expected_parent)
        sys.exit(1)


class TaskObserver(Protocol):
    """Told when each task starts and ends in this worker (e.g. monitoring's resource
    sampler). Both calls run on the worker's only task thread.

    ``task_started`` runs just before the task, so it delays the task and must be quick.
    ``task_ended`` runs once the task's result has been written to the result pipe, so
    its cost (a final resource sample) is off the path to the manager, which may already
    be sending this worker its next task; ``ended`` is the ``time.time()`` at which the
    task finished, taken before the result was written.
    """

    def task_started(self, htex_task_id: int, dfk_task_id: Optional[int]) -> None: ...

    def task_ended(self, htex_task_id: int, dfk_task_id: Optional[int], ok: bool,
                   ended: float) -> None: ...


def _offer_result_channel(observer: TaskObserver, result_fd: int) -> Optional[threading.Lock]:
    """Let an observer send its own records (monitoring batches) up the result pipe.

    An observer with ``attach_result_channel(send)`` that returns True will call ``send``
    from its own thread, so from then on every write to the pipe holds the returned lock;
    the records travel to the executor with the results (see ``_protocol.MONITORING``).
    """
    attach = getattr(observer, "attach_result_channel", None)
    if attach is None:
        return None
    lock = threading.Lock()

    def send(payload: bytes) -> None:
        # Bounded: a SIGTERM handler that sends could otherwise wait forever on a lock its
        # own (interrupted) thread holds.
        if not lock.acquire(timeout=_CHANNEL_WAIT):
            raise TimeoutError(f"the result pipe stayed busy for {_CHANNEL_WAIT} s")
        try:
            write_all(result_fd, (result_header(MONITORING_KEY, MONITORING, len(payload)),
                                  payload))
        finally:
            lock.release()

    return lock if attach(send) else None


def load_task_observer(token: str) -> Optional[TaskObserver]:
    """Build the observer a ``--task-observer`` token names, or None if it cannot be built.

    The token is URL-safe base64 of JSON ``{"factory": "module:callable", "config": {...}}``;
    ``callable(config)`` returns the observer. A broken observer is logged and ignored, so
    monitoring trouble never fails tasks.
    """
    try:
        spec = json.loads(base64.urlsafe_b64decode(token.encode()))
        module_name, _, attr = spec["factory"].partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        observer: TaskObserver = factory(spec.get("config", {}))
        return observer
    except Exception:
        logger.exception("Could not load the task observer %r; running without it", token)
        return None


def run_worker(task_fd: int, result_fd: int, rank: int, mpi_launcher: Optional[str],
               observer: Optional[TaskObserver] = None) -> int:
    """Serve tasks until the manager closes the task pipe; return the exit code."""
    tasks = os.fdopen(task_fd, "rb", buffering=1 << 16)
    events = TaskEvents(logger) if logger.isEnabledFor(TASK_EVENTS) else None
    if events is not None:
        _flush_in_background(events)
    write_lock = _offer_result_channel(observer, result_fd) if observer is not None else None
    logger.info("Worker %d (pid %d) ready", rank, os.getpid())
    try:
        while True:
            record = read_record(tasks, TASK_HEADER)
            if record is None:
                logger.info("Worker %d: task pipe closed by the manager; exiting", rank)
                return 0
            header, task = record
            key = header[:KEY_SIZE]
            if events is not None:
                started = time.time()
            if observer is not None:
                obs_htex_id, obs_dfk_id = key_ids(key)
                observer.task_started(obs_htex_id, obs_dfk_id)
                tag, payload = _execute(task, mpi_launcher)
                ended = time.time()
            else:
                tag, payload = _execute(task, mpi_launcher)
            if len(payload) > MAX_PAYLOAD:
                tag, payload = _serial.RESULT_TASK_ERROR, _serial.serialize_exception(
                    ValueError(f"the result is {len(payload)} bytes serialized, more than "
                               f"the {MAX_PAYLOAD} bytes a HighThroughputExecutor message "
                               "can carry"))
            if events is not None:
                htex_id, dfk_id = key_ids(key)
                events.add("worker_end", dfk_id, executor_task_id=htex_id, started=started,
                           outcome="ok" if tag == _serial.RESULT_OK else "error")
            if write_lock is None:
                write_all(result_fd, (result_header(key, tag, len(payload)), payload))
            else:
                with write_lock:
                    write_all(result_fd, (result_header(key, tag, len(payload)), payload))
            if observer is not None:
                observer.task_ended(obs_htex_id, obs_dfk_id, tag == _serial.RESULT_OK, ended)
    finally:
        if events is not None:
            events.flush()


def _flush_in_background(events: TaskEvents) -> None:
    """Write buffered events every FLUSH_PERIOD from a daemon thread, so the task loop
    only appends to a buffer, and write them on SIGTERM before dying of it (the manager
    stops its workers with SIGTERM right after the last results).

    SIGTERM is caught and ignored while events are on: the manager closes the task pipe before it
    sends SIGTERM, so the task loop ends on its own and its ``finally`` writes the last
    events; a task still running is ended by the manager's SIGKILL after its grace period.
    A handler that flushed could deadlock on a logging lock, and one that raised could
    land inside that ``finally`` and skip the write.
    """

    def flush_forever() -> None:
        while True:
            time.sleep(FLUSH_PERIOD)
            try:
                events.flush()
            except Exception:
                logger.exception("could not write task events")

    def ignore_term(_signum: int, _frame: Any) -> None:
        """Caught rather than SIG_IGN: a caught signal goes back to its default in the
        commands tasks start, an ignored one would stay ignored there."""

    threading.Thread(target=flush_forever, name="task-events", daemon=True).start()
    signal.signal(signal.SIGTERM, ignore_term)


def _execute(task: Any, mpi_launcher: Optional[str]) -> Tuple[int, bytes]:
    try:
        func, args, kwargs, spec = _serial.unpack_apply_message(task)
    except BaseException as e:
        logger.exception("Could not deserialize a task")
        return _serial.RESULT_TASK_ERROR, _serial.serialize_exception(e)
    saved = None
    release = None
    if spec and mpi_launcher:
        from parsl_htex.mpi_nodes import allocate_mpi_environment

        try:
            env, release = allocate_mpi_environment(spec, mpi_launcher)
        except Exception as e:
            return _serial.RESULT_TASK_ERROR, _serial.serialize_exception(e)
        saved = dict(os.environ)
        os.environ.update(env)
    try:
        result = func(*args, **kwargs)
    except SystemExit as e:
        # sys.exit() in a task ends this worker, as in Parsl: the manager reports the task
        # as WorkerLost with the exit code and starts a new worker.
        logger.warning("Task called sys.exit(%r); the worker exits", e.code)
        raise
    except BaseException as e:  # the task's own failure is its result
        return _serial.RESULT_TASK_ERROR, _serial.serialize_exception(e)
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
        if release is not None:
            release()
    return _serial.serialize_result(result)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="parsl_htex.worker",
                                     description="HTEX worker (started by process_worker_pool)")
    parser.add_argument("--task-fd", type=int, required=True)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--manager-pid", type=int, required=True)
    parser.add_argument("--logfile", required=True)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--cpus", default="", help="comma-separated CPU ids to pin to")
    parser.add_argument("--working-dir", default=None)
    parser.add_argument("--mpi-launcher", default=None)
    parser.add_argument("--task-observer", default=None)
    parser.add_argument("--logconf", default=None, help="pickled LogConfig of the run")
    parser.add_argument("--context", default="{}",
                        help="JSON object of parsl.log_context ids of this worker")
    args = parser.parse_args(argv)
    setup_process_logging(os.path.dirname(args.logfile),
                          os.path.splitext(os.path.basename(args.logfile))[0],
                          load_log_config(args.logconf), args.debug,
                          worker_id=args.rank, **json.loads(args.context))
    _die_with_parent(args.manager_pid)
    if args.cpus:
        cpus = {int(c) for c in args.cpus.split(",")}
        try:
            os.sched_setaffinity(0, cpus)
        except OSError as e:
            logger.warning("Could not pin worker %d to CPUs %s: %s", args.rank, sorted(cpus), e)
    if args.working_dir:
        os.makedirs(args.working_dir, exist_ok=True)
        os.chdir(args.working_dir)
    observer = load_task_observer(args.task_observer) if args.task_observer else None
    try:
        return run_worker(args.task_fd, args.result_fd, args.rank, args.mpi_launcher, observer)
    except BrokenPipeError:
        logger.error("Worker %d: the manager closed the result pipe; exiting", args.rank)
        return 1


if __name__ == "__main__":
    sys.exit(main())
