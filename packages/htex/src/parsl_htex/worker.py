"""A worker process: runs one task at a time for its manager.

Started by the manager (``python -m parsl_htex.worker``), one per worker slot, with its
environment already prepared (``PARSL_WORKER_RANK``, ``PARSL_WORKER_COUNT``,
``PARSL_WORKER_POOL_ID``, accelerator pinning). It connects a DEALER socket to the
manager's private IPC endpoint, says READY, then loops: receive ``[key, task]``, run the
task, send ``[b"R", key, tag, payload]``. The result is serialized here, in the worker, so
a result that cannot be pickled fails only its own task.

The worker dies with its manager: it asks the kernel for SIGKILL when its parent exits,
and checks its parent pid whenever it is idle.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import sys
from typing import Any, Dict, List, Optional

import zmq

from parsl_htex import _serial
from parsl_htex._logs import setup_file_logging
from parsl_htex._protocol import key_ids

logger = logging.getLogger("parsl_htex.worker")

_PR_SET_PDEATHSIG = 1
_IDLE_CHECK_MS = 1000


def _die_with_parent(expected_parent: int) -> None:
    """Have the kernel kill this process when the manager dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as e:
        logger.info("Cannot ask to die with the manager (%s); relying on polling", e)
    if os.getppid() != expected_parent:
        logger.error("Manager (pid %d) exited before this worker started; exiting",
                     expected_parent)
        sys.exit(1)


def _set_mpi_env(spec: Optional[Dict[str, Any]], mpi_launcher: str) -> None:
    """Export the MPI launch prefix for bash apps of MPI tasks (see parsl_htex.mpi)."""
    if not spec or "num_ranks" not in spec and "num_nodes" not in spec:
        return
    from parsl_htex.mpi import mpi_environment

    os.environ.update(mpi_environment(spec, mpi_launcher))


def run_worker(manager_url: str, rank: int, identity: bytes, manager_pid: int,
               mpi_launcher: Optional[str]) -> int:
    """Serve tasks until told to stop or the manager goes away; return the exit code."""
    ctx = zmq.Context(io_threads=1)
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(manager_url)
    sock.send_multipart([b"READY", json.dumps({"rank": rank, "pid": os.getpid()}).encode()])
    logger.info("Worker %d (pid %d) connected to %s", rank, os.getpid(), manager_url)
    debug = logger.isEnabledFor(logging.DEBUG)
    try:
        while True:
            if not sock.poll(_IDLE_CHECK_MS):
                if os.getppid() != manager_pid:
                    logger.error("Manager (pid %d) is gone; exiting", manager_pid)
                    return 1
                continue
            frames: List[Any] = sock.recv_multipart(copy=False)
            key = frames[0].bytes
            if key == b"STOP":
                logger.info("Worker %d told to stop", rank)
                return 0
            if debug:
                htex_id, dfk_id = key_ids(key)
                logger.debug("Running task_id=%s htex_task_id=%s", dfk_id, htex_id)
            tag, payload = _execute(frames[1].buffer, mpi_launcher)
            if debug:
                logger.debug("Finished task_id=%s htex_task_id=%s outcome=%s", dfk_id, htex_id,
                             "ok" if tag == _serial.RESULT_OK else "error")
            sock.send_multipart([b"R", key, bytes((tag,)), payload], copy=False)
    finally:
        sock.close(0)
        ctx.term()


def _execute(task: Any, mpi_launcher: Optional[str]) -> "tuple[int, bytes]":
    try:
        func, args, kwargs, spec = _serial.unpack_apply_message(task)
    except BaseException as e:
        logger.exception("Could not deserialize a task")
        return _serial.RESULT_TASK_ERROR, _serial.serialize_exception(e)
    if spec and mpi_launcher:
        _set_mpi_env(spec, mpi_launcher)
    try:
        result = func(*args, **kwargs)
    except BaseException as e:  # the task's own failure, SystemExit included, is its result
        return _serial.RESULT_TASK_ERROR, _serial.serialize_exception(e)
    return _serial.serialize_result(result)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="parsl_htex.worker",
                                     description="HTEX worker (started by process_worker_pool)")
    parser.add_argument("--manager-url", required=True)
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--manager-pid", type=int, required=True)
    parser.add_argument("--logfile", required=True)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--cpus", default="", help="comma-separated CPU ids to pin to")
    parser.add_argument("--working-dir", default=None)
    parser.add_argument("--mpi-launcher", default=None)
    args = parser.parse_args(argv)
    setup_file_logging(args.logfile, logging.DEBUG if args.debug else logging.INFO)
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
    return run_worker(args.manager_url, args.rank, args.identity.encode(), args.manager_pid,
                      args.mpi_launcher)


if __name__ == "__main__":
    sys.exit(main())
