"""The submit side's handle on the manager process (see :mod:`parsl_taskvine._manager`).

``submit`` only appends to a queue: a sender thread ships everything queued as one batch,
so the DFK thread that submits (often the thread that just completed a dependency) never
blocks on the pipe, and the two processes cannot deadlock writing to each other. A
receiver thread completes futures from result batches and notices, by end-of-file on the
socket, a manager process that died: every pending task then fails with the exit status
and the last lines of ``manager.log``.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List, Optional

from parsl_taskvine import _spec
from parsl_taskvine._spec import Outcome, TaskSpec

logger = logging.getLogger(__name__)

#: Seconds to wait for the manager process to listen.
START_TIMEOUT = 60.0
#: Seconds the manager process gets to cancel tasks and stop its factory before SIGKILL.
STOP_TIMEOUT = 10.0
_LOG_TAIL_LINES = 15


def _tail(path: str, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ManagerProcess:
    """Starts, feeds and stops one manager process.

    ``on_outcomes`` is called in the receiver thread with each batch of outcomes;
    ``on_lost`` once, with the reason, if the process goes away without being stopped.
    """

    def __init__(self, name: str, config: Dict[str, Any],
                 on_outcomes: Callable[[List[Outcome]], None],
                 on_lost: Callable[[str], None]) -> None:
        self.name = name
        self.config = config
        self.log_path = os.path.join(config["log_dir"], "manager.log")
        self._on_outcomes = on_outcomes
        self._on_lost = on_lost
        self._queue: queue.SimpleQueue[Optional[TaskSpec]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.factory_pid: Optional[int] = None
        self.port: Optional[int] = None
        self._conn: Optional[Connection] = None
        self._threads: List[threading.Thread] = []
        #: The run's tag (see :data:`parsl_taskvine._cctools.RUN_TAG`), if any.
        self.run_tag = ""

    # ------------------------------------------------------------------ start

    def start(self, env: Dict[str, str]) -> int:
        """Start the process and wait, bounded, until it listens; return its port."""
        ours, theirs = socket.socketpair()
        os.makedirs(self.config["log_dir"], exist_ok=True)
        stdio = open(os.path.join(self.config["log_dir"], "manager.stdout"), "ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "parsl_taskvine._manager", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=stdio,
                stderr=subprocess.STDOUT, start_new_session=True, env=env,
                cwd=self.config["log_dir"])
        finally:
            stdio.close()
            theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send(self.config)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._conn.poll(0.2):
            if self.proc.poll() is not None:
                raise RuntimeError(self._death_reason("while starting"))
            if time.monotonic() > deadline:
                self._kill()
                raise RuntimeError(f"{self.name} manager process did not start listening "
                                   f"within {START_TIMEOUT:.0f} s; see {self.log_path}")
        try:
            message = self._conn.recv()
        except (EOFError, OSError):
            raise RuntimeError(self._death_reason("while starting")) from None
        if message[0] == _spec.FATAL:
            self._kill()
            raise RuntimeError(f"{self.name} manager could not start: {message[1]}")
        self.port = int(message[1])
        for target, what in ((self._send_loop, "sender"), (self._receive_loop, "receiver")):
            thread = threading.Thread(target=target, name=f"{self.name}-{what}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.port

    def _death_reason(self, when: str) -> str:
        assert self.proc is not None
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            status = "closed its connection"
        elif code < 0:
            status = f"was killed by signal {-code}"
        else:
            status = f"exited with code {code}"
        tail = ""
        log_path = self.log_path
        for name in ("manager.log", "manager.jsonlog", "manager.stdout"):
            log_path = os.path.join(self.config["log_dir"], name)
            tail = _tail(log_path)
            if tail:
                break
        return (f"{self.name} manager process (pid {self.proc.pid}) {status} {when}; "
                f"last lines of {log_path}:\n{tail}")

    # ------------------------------------------------------------------ running

    def submit(self, spec: TaskSpec) -> None:
        self._queue.put(spec)

    def _send_loop(self) -> None:
        conn = self._conn
        assert conn is not None
        get = self._queue.get
        get_nowait = self._queue.get_nowait
        while True:
            first = get()
            if first is None:
                return
            batch = [first]
            try:
                while len(batch) < 1024:
                    item = get_nowait()
                    if item is None:
                        self._send(conn, batch)
                        return
                    batch.append(item)
            except queue.Empty:
                pass
            if not self._send(conn, batch):
                return

    def _send(self, conn: Connection, batch: List[TaskSpec]) -> bool:
        try:
            conn.send((_spec.TASKS, batch))
            return True
        except OSError as e:
            logger.debug("%s: cannot send %d tasks: %s", self.name, len(batch), e)
            return False

    def _receive_loop(self) -> None:
        conn = self._conn
        assert conn is not None
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(message, list):
                try:
                    self._on_outcomes(message)
                except Exception:
                    logger.exception("%s: could not handle %d outcomes", self.name,
                                     len(message))
            elif message[0] == _spec.FACTORY:
                self.factory_pid = int(message[1])
        if not self._stopping.is_set():
            reason = self._death_reason("while tasks were running")
            logger.error("%s", reason)
            # A manager killed outright could not stop its factory; its workers, busy with
            # tasks of a manager that is gone, would linger until their idle timeout.
            self._kill()
            self._on_lost(reason)

    # ------------------------------------------------------------------ stopping

    def stop(self) -> None:
        """Ask the process to stop; kill it and the factory group if it takes too long."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        proc = self.proc
        if proc is None:
            return
        self._queue.put(None)
        conn = self._conn
        if conn is not None and proc.poll() is None:
            try:
                conn.send((_spec.STOP,))
            except OSError:
                pass
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("%s manager process %s did not stop within %.0f s; killing it",
                           self.name, proc.pid, STOP_TIMEOUT)
        self._kill()
        if conn is not None:
            conn.close()
        for thread in self._threads:
            thread.join(2.0)

    def _kill(self) -> None:
        """SIGKILL the manager's and the factory's process groups; never raises."""
        groups = [self.factory_pid]
        if self.proc is not None and self.proc.poll() is None:
            groups.append(self.proc.pid)
        for pid in groups:
            if pid is None:
                continue
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc is not None:
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.error("%s manager process %s survived SIGKILL", self.name,
                             self.proc.pid)
        if self.run_tag:
            from parsl_taskvine._cctools import kill_tagged

            kill_tagged(self.run_tag)
