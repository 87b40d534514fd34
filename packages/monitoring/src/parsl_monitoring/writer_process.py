"""The database writer in its own process, so that merging rows and talking to the database
never take the submitting process's GIL away from the DFK.

The submitting side (:class:`WriterProcess`) only appends each message to a deque (one C
call, no lock). A sender thread pickles what has accumulated every ``flush_period / 2``
seconds and writes it, length-prefixed, to the writer's stdin. The writer process
(``python -m parsl_monitoring.writer_process``, a fresh interpreter: no fork of a threaded
process, no re-import of the user's script) feeds a
:class:`~parsl_monitoring.writer.DatabaseWriter` thread, and after each batch asks it to
confirm the commit. Confirmations, loss counts and the writer's log records come back as
JSON lines on a second pipe; log records are re-emitted here, so they land in parsl.log.

Nothing is lost silently: the submitting side counts the messages it sent and the ones the
writer confirmed committed. If the writer process dies, a thread notices at once (EOF on
its pipe), logs what was not written, and counts those messages, and every later one, as
lost; waits on it return at once, so the run still finishes. The writer ignores SIGINT
and SIGTERM (a Ctrl-C reaches the whole process group) and ends when its stdin closes:
after a clean ``stop``, or when the submitting process dies, it writes what it has first.
"""
from __future__ import annotations

import base64
import collections
import itertools
import json
import logging
import os
import pathlib
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Callable, Deque, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from parsl_monitoring.writer import DatabaseWriter

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct("<Q")
#: Message kinds only this protocol uses (the rest are parsl_monitoring.writer's).
_ACK = "ack"    # (_ACK, sequence number): confirm once everything before it is committed
_SYNC = "sync"  # (_SYNC, sync id): confirm a caller's sync
_PROBE = "probe"  # (_PROBE, sync id): confirm once everything before it is merged

_CONFIRMS = (_SYNC, _PROBE)
#: Most messages pickled at once by the sender (about 0.5 ms of pickling).
_CHUNK = 2048
#: How much lower than the submitting process the writer runs (see ``nice(1)``): the
#: lowest, so while the workflow's processes want the CPU the writer gets little of it
#: (yet never none: rows are delayed, not starved).
_NICENESS = 19


class WriterProcess:
    """A :class:`~parsl_monitoring.writer.DatabaseWriter` in a child process, with the same
    ``put``/``sync``/``stop`` interface and the same ``lost``/``lost_reasons``/
    ``rows_written`` counters, and ``unended`` as of the last reply."""

    def __init__(self, url: str, run_id: str, *, flush_period: float = 0.5,
                 busy_timeout: float = 30.0, retry_timeout: float = 30.0,
                 log_dir: Optional[str] = None, log_config: Any = None,
                 debug: bool = False) -> None:
        self.url = url
        self.run_id = run_id
        self.flush_period = flush_period
        encoded = (base64.b64encode(pickle.dumps(log_config)).decode()
                   if log_config is not None else None)
        self.settings = {"url": url, "run_id": run_id, "flush_period": flush_period,
                         "busy_timeout": busy_timeout, "retry_timeout": retry_timeout,
                         "log_dir": log_dir, "log_config": encoded, "debug": debug}
        self._pending: Deque[Tuple[Any, ...]] = collections.deque()
        #: Appends a message: a bound C method, the only cost producers pay.
        self.put = self._pending.append
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self._wake = threading.Event()
        self._stopping = False
        self._sent = 0
        self._committed = 0
        self._syncs: Dict[int, threading.Event] = {}
        self._sync_ids = itertools.count()
        self._lock = threading.Lock()
        self.dead: Optional[str] = None
        self.lost = 0
        self.lost_reasons: Dict[str, int] = {}
        self.rows_written = 0
        self.unended = 0
        self._sender: Optional[threading.Thread] = None
        self._reader: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        replies_r, replies_w = os.pipe()
        # The child imports this package from wherever this process found it.
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            [package_root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "parsl_monitoring.writer_process", str(replies_w),
                 json.dumps(self.settings)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(replies_w,),
                close_fds=True, env=env, start_new_session=True)
        finally:
            os.close(replies_w)
        replies = os.fdopen(replies_r, "rb")
        logger.debug("monitoring database writer process %d started", self.proc.pid)
        self._reader = threading.Thread(target=self._read_replies, args=(replies,),
                                        daemon=True, name="parsl-monitoring-db-replies")
        self._reader.start()
        self._sender = threading.Thread(target=self._send_loop, daemon=True,
                                        name="parsl-monitoring-db-sender")
        self._sender.start()

    @property
    def pid(self) -> Optional[int]:
        return None if self.proc is None else self.proc.pid

    def is_alive(self) -> bool:
        """Whether the writer process runs (``multiprocessing.Process``'s name for it)."""
        return self.proc is not None and self.proc.poll() is None

    def sync(self, timeout: float) -> bool:
        """Wait until everything put before this call is committed; False on timeout.
        Returns at once (True) if the writer process is gone: its losses are counted."""
        return self._confirm(_SYNC, timeout)

    def probe(self, timeout: float) -> bool:
        """Wait until everything put before this call is merged (and ``unended`` is
        current); like :meth:`sync` without waiting for the database."""
        return self._confirm(_PROBE, timeout)

    def _confirm(self, kind: str, timeout: float) -> bool:
        done = threading.Event()
        sync_id = next(self._sync_ids)
        with self._lock:
            if self.dead is not None:
                return True
            self._syncs[sync_id] = done
        self.put((kind, sync_id))
        self._wake.set()
        return self._wait(done.is_set, timeout)

    def _wait(self, finished: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``finished()``; False once the writer has committed nothing for
        ``timeout`` seconds (a large backlog is not a hang: it keeps committing)."""
        progress = (self._committed, self.rows_written)
        deadline = time.monotonic() + timeout
        while not finished():
            now = time.monotonic()
            if now >= deadline:
                return False
            time.sleep(min(0.02, deadline - now))
            if (self._committed, self.rows_written) != progress:
                progress = (self._committed, self.rows_written)
                deadline = time.monotonic() + timeout
        return True

    def stop(self, timeout: float) -> None:
        """Send what is left, let the writer write it (it retries an unreachable database
        for ``retry_timeout``), and wait for it to exit; kill it once it has committed
        nothing for ``timeout`` seconds."""
        self._stopping = True
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout)
        proc = self.proc
        if proc is None:
            return
        if not self._wait(lambda: proc.poll() is not None, timeout):
            logger.error("monitoring database writer process %d made no progress for "
                         "%.0f s; killing it", proc.pid, timeout)
            proc.kill()
            proc.wait(10)
        if self._reader is not None:
            self._reader.join(10)
        with self._lock:
            if self.dead is None and self._committed < self._sent:
                self._count_lost(self._sent - self._committed,
                                 "database writer ended before writing them")
            self._count_lost(sum(1 for m in self._pending if m[0] not in _CONFIRMS),
                             "database writer ended before writing them")
            self._pending.clear()

    # ------------------------------------------------------------------ sending

    def _send_loop(self) -> None:
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        stdin: IO[bytes] = proc.stdin
        period = self.flush_period / 2
        while True:
            self._wake.wait(period)
            self._wake.clear()
            stopping = self._stopping
            self._send(stdin)
            if stopping:
                try:
                    stdin.close()  # EOF: the writer writes the rest and exits
                except OSError:
                    pass
                return

    def _send(self, stdin: IO[bytes]) -> None:
        """Send everything pending as one batch, ending with an ACK request; once the
        writer is gone, count it as lost instead."""
        pending = self._pending
        count = len(pending)
        if not count:
            return
        popleft = pending.popleft
        batch: List[Tuple[Any, ...]] = [popleft() for _ in range(count)]
        data_messages = sum(1 for m in batch if m[0] not in _CONFIRMS)
        if self.dead is not None:
            with self._lock:
                self._count_lost(data_messages, "database writer process died")
            return
        batch.append((_ACK, self._sent + data_messages))
        try:
            # In chunks: one pickle.dumps holds the GIL throughout, and a burst's batch
            # (tens of thousands of messages) would stall the DFK's threads for
            # milliseconds; between chunks the writes let them run.
            for start in range(0, len(batch), _CHUNK):
                payload = pickle.dumps(batch[start:start + _CHUNK],
                                       protocol=pickle.HIGHEST_PROTOCOL)
                stdin.write(_LENGTH.pack(len(payload)))
                stdin.write(payload)
            stdin.flush()
        except (OSError, ValueError) as e:
            with self._lock:
                self._sent += data_messages
            self._writer_gone(f"cannot send to it ({e})")
            return
        with self._lock:
            self._sent += data_messages

    # ------------------------------------------------------------------ replies

    def _read_replies(self, replies: BinaryIO) -> None:
        with replies:
            for line in replies:
                try:
                    reply = json.loads(line)
                except ValueError:
                    logger.error("monitoring: unreadable reply from the database writer: %r",
                                 line[:200])
                    continue
                self._on_reply(reply)
        if not self._stopping or self.proc is None or self.proc.poll() not in (0, None):
            self._writer_gone("its reply pipe closed")

    def _on_reply(self, reply: Dict[str, Any]) -> None:
        if "log" in reply:
            level, name, text = reply["log"]
            logging.getLogger(name).log(level, "%s", text)
            return
        with self._lock:
            self.lost = reply["lost"]
            self.lost_reasons = dict(reply["lost_reasons"])
            self.rows_written = reply["rows_written"]
            self.unended = reply["unended"]
            if "committed" in reply:
                self._committed = max(self._committed, reply["committed"])
            done = self._syncs.pop(reply["sync"], None) if "sync" in reply else None
        if done is not None:
            done.set()

    def _writer_gone(self, why: str) -> None:
        """The writer process died (or cannot be reached): count what it did not commit,
        log it, and release every waiter."""
        with self._lock:
            if self.dead is not None:
                return
            proc = self.proc
            code = proc.poll() if proc is not None else None
            if proc is not None and code is None:
                try:
                    code = proc.wait(2)
                except subprocess.TimeoutExpired:
                    code = None
            self.dead = f"exit code {code}" if code is not None else why
            unwritten = self._sent - self._committed
            self._count_lost(unwritten, "database writer process died")
            syncs = list(self._syncs.values())
            self._syncs.clear()
        logger.error("monitoring: the database writer process %s died (%s, %s); %d messages "
                     "it had not committed are lost, and so is every later one",
                     proc.pid if proc is not None else "?", self.dead, why, unwritten)
        for done in syncs:
            done.set()

    def _count_lost(self, count: int, reason: str) -> None:
        """Caller holds the lock."""
        if count > 0:
            self.lost += count
            self.lost_reasons[reason] = self.lost_reasons.get(reason, 0) + count


# ---------------------------------------------------------------------- the child


class _Replies:
    """JSON lines to the submitting process, from several threads."""

    def __init__(self, fd: int) -> None:
        self.stream = os.fdopen(fd, "wb", buffering=0)
        self.lock = threading.Lock()

    def send(self, reply: Dict[str, Any]) -> None:
        line = json.dumps(reply).encode() + b"\n"
        with self.lock:
            try:
                self.stream.write(line)
            except OSError:
                pass  # the submitting process is gone; the rows are still written


class _Ack:
    """Stands in for the Event of a writer SYNC message: when the writer commits
    everything before it, it reports the counters (and what it confirms) back."""

    def __init__(self, replies: _Replies, writer: Any, **what: int) -> None:
        self.replies = replies
        self.writer = writer
        self.what = what

    def set(self) -> None:
        w = self.writer
        self.replies.send({"lost": w.lost, "lost_reasons": w.lost_reasons,
                           "rows_written": w.rows_written, "unended": w.unended,
                           **self.what})


class _ForwardLogs(logging.Handler):
    def __init__(self, replies: _Replies) -> None:
        super().__init__(logging.DEBUG)
        self.replies = replies

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.replies.send({"log": [record.levelno, record.name, record.getMessage()]})
        except Exception:
            self.handleError(record)


_LOG_FORMAT = ("%(asctime)s.%(msecs)03d %(name)s:%(lineno)d %(processName)s(%(process)d) "
               "%(threadName)s %(funcName)s [%(levelname)s] %(message)s")


def _log_to_run_dir(package_logger: logging.Logger, settings: Dict[str, Any]) -> None:
    """Write this process's records to the run directory as Parsl's database manager does:
    ``database_manager.log``, or the file the run's LogConfig names ``database_manager``
    (``database_manager.jsonlog`` with JSONLogging). Errors still go to parsl.log too,
    through the parent."""
    log_dir = settings.get("log_dir")
    if not log_dir:
        return
    try:
        os.makedirs(log_dir, exist_ok=True)
        encoded = settings.get("log_config")
        if encoded:
            from parsl.logconfigs.base import oneshot_initialize_logging

            log_config = pickle.loads(base64.b64decode(encoded))
            oneshot_initialize_logging(log_config=log_config, log_dir=pathlib.Path(log_dir),
                                       log_name="database_manager")
            for handler in logging.getLogger().handlers:
                package_logger.addHandler(handler)
            return
        from parsl.log_utils import DATE_FORMAT, ParslFormatter

        handler = logging.FileHandler(os.path.join(log_dir, "database_manager.log"))
        handler.setFormatter(ParslFormatter(_LOG_FORMAT, datefmt=DATE_FORMAT))
        package_logger.addHandler(handler)
    except Exception as e:  # a log file must never stop the database writer
        package_logger.warning("monitoring: cannot write database_manager logs in %s: %s: %s",
                               log_dir, type(e).__name__, e)


def _read_batches(stdin: BinaryIO) -> Any:
    while True:
        head = stdin.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (length,) = _LENGTH.unpack(head)
        body = stdin.read(length)
        if len(body) < length:
            return
        yield pickle.loads(body)


class _Stopped(BaseException):
    """SIGINT or SIGTERM sent to the writer itself."""


def _stop_on_signal(signum: int, _frame: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stopped(signum)


def main(argv: Optional[List[str]] = None) -> int:
    """Write the batches arriving on stdin until it closes.

    The writer runs in its own session, so a Ctrl-C in the user's terminal reaches only the
    workflow, which then records the run's end through it. A SIGINT or SIGTERM sent to the
    writer itself stops it: it writes what it holds and exits, and the hub counts whatever
    it sends afterwards as lost.
    """
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    # Below the workflow's own processes: on a busy node the rows wait (in memory, safe),
    # not the tasks. SCHED_BATCH also stops the writer's wake-ups from preempting them.
    try:
        os.nice(_NICENESS)
    except OSError:
        pass
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH"):
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except OSError:
            pass
    replies = _Replies(int(args[0]))
    settings = json.loads(args[1])
    package_logger = logging.getLogger("parsl_monitoring")
    package_logger.addHandler(_ForwardLogs(replies))
    package_logger.setLevel(logging.DEBUG if settings.get("debug") else logging.INFO)
    package_logger.propagate = False
    _log_to_run_dir(package_logger, settings)
    try:
        from parsl_monitoring.writer import DatabaseWriter

        writer = DatabaseWriter(settings["url"], settings["run_id"],
                                flush_period=settings["flush_period"],
                                busy_timeout=settings["busy_timeout"],
                                retry_timeout=settings["retry_timeout"])
        writer.start()
        logging.getLogger("parsl_monitoring.writer_process").info(
            "monitoring database writer (pid %d) writing run %s to %s", os.getpid(),
            settings["run_id"], settings["url"])
        stopped_by = 0
        try:
            _write_batches(writer, replies)
        except _Stopped as stop:
            stopped_by = stop.args[0]
            logging.getLogger("parsl_monitoring.writer_process").warning(
                "monitoring database writer stopped by signal %d: writing the rows it "
                "holds and exiting; later rows of run %s are not written", stopped_by,
                settings["run_id"])
        writer.stop(settings["retry_timeout"] + 15)
        _Ack(replies, writer).set()
    except Exception:
        logging.getLogger("parsl_monitoring.writer_process").exception(
            "monitoring database writer process failed")
        return 1
    # A stop by signal exits as a shell reports one (128 + signal number).
    return 128 + stopped_by if stopped_by else 0


def _write_batches(writer: DatabaseWriter, replies: _Replies) -> None:
    from parsl_monitoring.kinds import BATCH, NOTE, PROBE, SYNC

    put = writer.queue.put
    control = {_ACK, _SYNC, _PROBE}
    for batch in _read_batches(sys.stdin.buffer):
        # One queue item per batch: a hand-over between threads per message cost more
        # than merging it. Control messages (a few per batch) become writer events.
        for index, message in enumerate(batch):
            kind = message[0]
            if kind not in control:
                continue
            if kind == _ACK:
                batch[index] = (NOTE, _Ack(replies, writer, committed=message[1]))
            elif kind == _SYNC:
                batch[index] = (SYNC, _Ack(replies, writer, sync=message[1]))
            else:
                batch[index] = (PROBE, _Ack(replies, writer, sync=message[1]))
        put((BATCH, batch))


if __name__ == "__main__":
    sys.exit(main())
