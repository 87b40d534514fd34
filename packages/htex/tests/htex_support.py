"""Helpers the HTEX tests import by name (``from htex_support import wait_for``).

They live here rather than in conftest.py because every package's test folder has a
conftest.py, so the plain name ``conftest`` is ambiguous in a whole-suite run, and because
workers (which get this folder on PYTHONPATH through :data:`WORKER_INIT`) must be able to
import whatever a task function refers to.
"""
from __future__ import annotations

import os
import select
import socket
import time
from typing import List, Optional

import psutil
from polling import free_port, wait_for

from parsl_htex import _protocol as P
from parsl_htex import _tcp
from parsl_htex.executor import HighThroughputExecutor

__all__ = ["TcpPeer", "free_port", "htex_processes", "manager_process", "process_gone",
           "wait_for", "worker_processes"]

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
#: Core's shared test helpers (polling), which this module imports.
SUPPORT_DIR = os.path.join(TESTS_DIR, os.pardir, os.pardir, "core", "tests", "_support")
#: Lets workers import htex_test_tasks (and test modules, with what they import) by name.
WORKER_INIT = f"export PYTHONPATH={TESTS_DIR}:{os.path.normpath(SUPPORT_DIR)}:${{PYTHONPATH:-}}"


def htex_processes(run_dir: str, ex: HighThroughputExecutor) -> List[psutil.Process]:
    """Live processes belonging to this executor: interchange, managers, workers."""
    found = []
    ic = ex.interchange_proc
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.info["cmdline"] or [])
            if (ic is not None and p.pid == ic.pid) or (run_dir in cmd and "parsl_htex" in cmd) \
                    or (run_dir in cmd and "process_worker_pool" in cmd):
                found.append(p)
        except psutil.Error:
            continue
    return found


def manager_process(ex: HighThroughputExecutor) -> psutil.Process:
    managers = wait_for(ex.connected_managers, what="a manager to register")
    return psutil.Process(managers[0]["pid"])


def process_gone(process: psutil.Process) -> bool:
    """Whether ``process`` has exited (a zombie counts; so does one reaped meanwhile)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def worker_processes(ex: HighThroughputExecutor, count: int) -> List[psutil.Process]:
    manager = manager_process(ex)

    def workers() -> List[psutil.Process]:
        kids = []
        for child in manager.children():
            try:  # a killed worker may be a zombie, or reaped, by now
                if "parsl_htex.worker" in " ".join(child.cmdline()):
                    kids.append(child)
            except psutil.Error:
                continue
        return kids if len(kids) >= count else []

    return list(wait_for(workers, what=f"{count} workers"))


class TcpPeer:
    """A stand-in for one of a manager's connections to an unencrypted interchange's
    worker port, speaking its framing (parsl_htex._tcp) with blocking calls."""

    def __init__(self, port: int, identity: Optional[bytes], host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        if identity is not None:
            self.send(P.HELLO + identity)

    def send(self, body: bytes) -> None:
        self.sock.sendall(_tcp.frame(body) + body)

    def recv(self, timeout: float = 10.0) -> bytes:
        """The next message; AssertionError if none arrives within ``timeout`` seconds or
        the interchange closes the connection."""
        deadline = time.monotonic() + timeout
        size = _tcp.FRAME.size
        while True:
            if len(self.buf) >= size:
                end = size + _tcp.FRAME.unpack_from(self.buf)[0]
                if len(self.buf) >= end:
                    body, self.buf = self.buf[size:end], self.buf[end:]
                    return body
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no message from the interchange within {timeout} s"
            self.sock.settimeout(remaining)
            data = self.sock.recv(1 << 20)
            assert data, "the interchange closed the connection"
            self.buf += data

    def closed_by_interchange(self, timeout: float) -> bool:
        """Whether the interchange closes this connection within ``timeout`` seconds
        (whatever it sends before is discarded)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if select.select([self.sock], [], [], remaining)[0]:
                try:
                    if not self.sock.recv(1 << 20):
                        return True
                except ConnectionResetError:
                    return True

    def close(self) -> None:
        self.sock.close()
