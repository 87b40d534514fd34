"""The manager: one per node, started in a block by the provider and launcher.

``process_worker_pool`` connects to the interchange (probing each candidate address in
turn, for at most ``--address_probe_timeout`` seconds; over plain TCP, or TLS with the
run's certificates from ``--cert_dir``), registers (the interchange refuses a different
Python major.minor or parsl-htex version), starts one worker process per slot, and then
moves tasks from the interchange to idle workers and results back, in batches. It
heartbeats the interchange, replaces workers that die (failing their task with
:class:`~parsl_htex.errors.WorkerLost`), and exits when told to stop, when its
``--drain_period`` is over and its tasks are done, or when the interchange has been silent
for ``--hb_threshold`` seconds (or has closed its TCP connection). Every failure to start
is printed to stderr (which the provider keeps with the block) as well as logged to
``manager.log``, and exits non-zero so the block is reported failed.
"""
from __future__ import annotations

import argparse
import collections
import ctypes
import fcntl
import json
import logging
import math
import os
import platform
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from typing import Any, Deque, Dict, List, Optional, Sequence, Set, Tuple

import psutil

from parsl.log_context import FLUSH_PERIOD, TASK_EVENTS, TaskEvents, set_process_context
from parsl_htex import _protocol as P
from parsl_htex import _security, _serial, _tcp
from parsl_htex._affinity import affinity_environment, cpu_assignments
from parsl_htex._logs import load_log_config, setup_process_logging
from parsl_htex._net import probe
from parsl_htex._pipes import MessageReader, MessageWriter
from parsl_htex.errors import WorkerLost
from parsl_htex.mpi_nodes import NODE_LOCKS_ENV
from parsl_htex.version import VERSION

logger = logging.getLogger("parsl_htex.manager")
_EVENT_FLUSH_MS = int(FLUSH_PERIOD * 1000)
#: Poll interval of a draining manager, which exits as soon as its last task is done.
_DRAINING_CHECK_MS = 50

_RESTART_BACKOFF = 1.0
#: How long a worker killed by SIGTERM waits for the manager to be signalled too.
_SIGTERM_SIBLING_WAIT = 0.3
_WORKER_STOP_GRACE = 3.0
_FINAL_SEND_LINGER = 1.0
_F_SETPIPE_SZ = 1031
#: Large pipes let a 1 MB task or result move in one write instead of 16.
_PIPE_SIZE = 2**20
_PR_SET_CHILD_SUBREAPER = 36
#: Longest wait for killed leftover processes to be reaped.
_STRAY_KILL_WAIT = 5.0


def _rank_of(process: psutil.Process) -> Optional[str]:
    """The worker slot a process was started under (``PARSL_WORKER_RANK``), if known."""
    try:
        rank: Optional[str] = process.environ().get("PARSL_WORKER_RANK")
    except psutil.Error:
        return None
    return rank


def become_subreaper() -> bool:
    """Have processes orphaned below this one (a killed worker's bash command, even one
    that called setsid) reparented to this manager rather than to init, so they can be
    found and ended (Linux only; returns whether it worked)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
            return True
        logger.warning("prctl(PR_SET_CHILD_SUBREAPER) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as e:
        logger.warning("Cannot become a child subreaper (%s): processes left by killed "
                       "workers may outlive them", e)
    return False


class StartupError(Exception):
    """The manager cannot start serving; the message is printed for the block's stderr."""


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def installed_packages() -> Dict[str, str]:
    """Distribution name -> version of what this interpreter can import, for
    ``HighThroughputExecutor.connected_managers_packages()``.

    Read from the ``*.dist-info`` folder names on ``sys.path`` (a few milliseconds)
    rather than from each distribution's metadata (a quarter of a second at start-up of
    every manager). ``parsl`` maps to the version of the parsl package, as in Parsl.
    """
    import parsl

    found: Dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.scandir(entry or ".")
        except OSError:
            continue
        with listing:
            for item in listing:
                if item.name.endswith(".dist-info"):
                    name, _, version = item.name[:-len(".dist-info")].partition("-")
                    found.setdefault(name.replace("_", "-").lower(), version)
    found["parsl"] = parsl.__version__
    return found


def compute_worker_count(max_workers_per_node: float, cores_per_worker: float,
                         mem_per_worker: Optional[float], accelerators: Sequence[str],
                         cores: int, available_mem_gb: float) -> int:
    """Workers this node can run: the tightest of the worker, core, memory and
    accelerator limits, and at least one."""
    limits = [max_workers_per_node, math.floor(cores / cores_per_worker)]
    if mem_per_worker:
        limits.append(math.floor(available_mem_gb / mem_per_worker))
    if accelerators:
        limits.append(len(accelerators))
    count = min(limits)
    return max(1, int(count))


class _Worker:
    """Book-keeping of one worker process slot and its pipes."""

    __slots__ = ("generation", "pidfd", "proc", "rank", "reader", "started", "task", "writer")

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.generation = 0
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.pidfd: Optional[int] = None
        self.reader: Optional[MessageReader] = None
        self.writer: Optional[MessageWriter] = None
        self.task: Optional[bytes] = None
        self.started = 0.0


class _TcpLink:
    """The manager's two TCP connections to the interchange (see parsl_htex._tcp), TLS
    when the run is encrypted: one system call per message, and EOF tells at once that
    the interchange is gone. What a socket cannot take yet waits in a writer, and its
    descriptor is polled for POLLOUT until it is sent."""

    def __init__(self, uid: str, addr: str, task_port: int, result_port: int,
                 timeout: float, tls: Optional[ssl.SSLContext] = None) -> None:
        self.task = self._connect(addr, task_port, timeout, tls)
        try:
            self.results = self._connect(addr, result_port, timeout, tls)
        except OSError:
            self.task.close()
            raise
        _tcp.configure(self.task)
        _tcp.configure(self.results)
        self.fd = self.task.fileno()
        self.result_fd = self.results.fileno()
        self.reader = _tcp.FrameReader(self.task)
        self.task_writer = _tcp.writer_for(self.task)
        self.result_writer = _tcp.writer_for(self.results)
        #: Messages read with the registration reply, for the event loop.
        self.early: List[memoryview] = []
        self.gone: Optional[str] = None
        self.poller: Any = None
        hello = P.HELLO + uid.encode()
        self._write(self.task_writer, hello)
        self._write(self.result_writer, hello)

    @staticmethod
    def _connect(addr: str, port: int, timeout: float,
                 tls: Optional[ssl.SSLContext]) -> socket.socket:
        """Connect (and do the TLS handshake, when ``tls`` is given) within ``timeout``."""
        sock = socket.create_connection((addr, port), timeout=timeout)
        if tls is None:
            return sock
        try:
            return tls.wrap_socket(sock)
        except OSError:
            sock.close()
            raise

    def _write(self, writer: _tcp.Writer, body: bytes) -> bool:
        """Queue ``body`` on ``writer``; False if it could not all be written yet."""
        try:
            return writer.write((_tcp.frame(body), body))
        except OSError as e:
            self.gone = f"sending to the interchange failed: {e}"
            return True

    def request(self, body: bytes, timeout: float) -> Optional[bytes]:
        """Send ``body`` on the task connection; the first reply, or None after
        ``timeout``. Raises ConnectionError if the interchange closes the connection."""
        self._write(self.task_writer, body)
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | (select.POLLOUT if self.task_writer.pending
                                                   else 0))
        while self.gone is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            for _, events in poller.poll(math.ceil(remaining * 1000)):
                if events & select.POLLOUT and self.task_writer.flush():
                    poller.register(self.fd, select.POLLIN)
                if events & ~select.POLLOUT:
                    messages, still_open = self.reader.read(_tcp.MAX_MESSAGE)
                    if messages:
                        self.early = messages[1:]
                        return messages[0].tobytes()
                    if not still_open:
                        raise ConnectionError("the interchange closed the connection")
        raise ConnectionError(self.gone)

    def attach(self, poller: Any) -> None:
        self.poller = poller
        poller.register(self.fd, select.POLLIN)
        if self.task_writer.pending:
            poller.register(self.fd, select.POLLIN | select.POLLOUT)

    def pending_input(self) -> bool:
        return bool(self.early)

    def receive(self) -> List[memoryview]:
        messages, still_open = self.reader.read(_tcp.MAX_MESSAGE)
        if not still_open:
            self.gone = "the interchange closed the connection"
        if self.early:
            messages[:0] = self.early
            self.early = []
        return messages

    def send(self, body: bytes) -> None:
        if not self._write(self.task_writer, body):
            self.poller.register(self.fd, select.POLLIN | select.POLLOUT)

    def send_results(self, body: bytes) -> None:
        if not self._write(self.result_writer, body):
            self.poller.register(self.result_fd, select.POLLOUT)

    def writable(self, fd: int) -> None:
        """Write what waits for the connection ``fd``; stop polling for POLLOUT once done."""
        writer = self.task_writer if fd == self.fd else self.result_writer
        try:
            done = writer.flush()
        except OSError as e:
            self.gone = f"sending to the interchange failed: {e}"
            return
        if done:
            if fd == self.fd:
                self.poller.register(fd, select.POLLIN)
            else:
                self.poller.unregister(fd)

    def close(self, linger: float) -> None:
        """Send what is still queued (for at most ``linger`` seconds), then close."""
        deadline = time.monotonic() + linger
        for writer, sock in ((self.result_writer, self.results), (self.task_writer, self.task)):
            while writer.pending and self.gone is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                select.select([], [sock], [], remaining)
                try:
                    writer.flush()
                except OSError:
                    break
        self.task.close()
        self.results.close()




class Manager:
    """Moves tasks between the interchange and this node's workers; see the module doc."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.uid: str = args.uid
        self.block_id: str = args.block_id
        self.hostname = platform.node() or socket.gethostname()
        self.cert_dir: Optional[str] = (args.cert_dir if args.cert_dir not in (None, "None")
                                        else None)
        self.hb_period: float = args.hb_period
        self.hb_threshold: float = args.hb_threshold
        self.poll_ms = max(1, int(args.poll))
        self.prefetch: int = args.prefetch_capacity
        self.accelerators: List[str] = list(args.available_accelerators or [])
        cpus = sorted(os.sched_getaffinity(0))
        self.cpus = cpus
        mem_gb = psutil.virtual_memory().available / 2**30
        max_workers = math.inf if args.max_workers_per_node in (None, "inf", "None") \
            else float(args.max_workers_per_node)
        self.worker_count = compute_worker_count(max_workers, args.cores_per_worker,
                                                 args.mem_per_worker or None, self.accelerators,
                                                 len(cpus), mem_gb)
        try:
            self.cpu_sets = cpu_assignments(args.cpu_affinity, self.worker_count, cpus)
        except ValueError as e:
            raise StartupError(f"manager {args.uid} of block {args.block_id}: {e}") from None
        self.logdir = os.path.join(args.logdir, f"block-{self.block_id}", self.uid)
        #: The connections to the interchange, once registering.
        self.link: Optional[_TcpLink] = None
        self.workers: List[_Worker] = [_Worker(r) for r in range(self.worker_count)]
        self.by_pidfd: Dict[int, _Worker] = {}
        self.by_result_fd: Dict[int, _Worker] = {}
        self.by_task_fd: Dict[int, _Worker] = {}
        self.idle: Deque[_Worker] = collections.deque()
        #: ``(key, task record)`` of tasks received and not yet given to a worker.
        self.pending: Deque[Tuple[bytes, memoryview]] = collections.deque()
        #: Result records not yet sent to the interchange.
        self.results: List[bytes] = []
        #: Only plain descriptors are polled, so the interpreter's poll() serves: one
        #: system call per wait.
        self.poller = select.poll()
        self.draining = False
        #: Set when the interchange confirms our DRAIN: no task can arrive after that.
        self.drain_acked = False
        self.stopping = False
        self.start_time = time.monotonic()
        self.last_from_interchange = time.monotonic()
        self.next_heartbeat = 0.0
        self.tasks_done = 0
        self.run_id: Optional[str] = None
        #: Per-task events, when logged (level TASK_EVENTS or lower); see log_context.
        self.task_events = TaskEvents(logger) if logger.isEnabledFor(TASK_EVENTS) else None
        #: Events of each hop to and from workers, at DEBUG only.
        self.hop_events = logger.isEnabledFor(logging.DEBUG)
        self.subreaper = become_subreaper()

    @property
    def log_context(self) -> Dict[str, Any]:
        """The parsl.log_context ids this manager's workers log with (besides their rank)."""
        return {"run_id": self.run_id, "block_id": self.block_id, "manager_id": self.uid,
                "executor": os.path.basename(os.path.normpath(self.args.logdir))}

    # ------------------------------------------------------------------ connecting

    def probe_addresses(self) -> str:
        """Return the IP of the first of ``--addresses`` (v4 or v6 literals, interface or
        host names) whose task port accepts a TCP connection; all are tried at once."""
        addresses: List[str] = [a.strip() for a in self.args.addresses.split(",") if a.strip()]
        timeout = self.args.address_probe_timeout
        found, reasons = probe(addresses, self.args.task_port, timeout)
        if found is None:
            raise StartupError(
                f"manager {self.uid} of block {self.block_id} on {self.hostname} could not "
                f"reach the interchange on port {self.args.task_port} at any of "
                f"{addresses} within address_probe_timeout={timeout} s: "
                + "; ".join(f"{a}: {reasons.get(a, 'no answer')}" for a in addresses))
        logger.info("Interchange reachable at %s port %d (candidates %s)", found,
                    self.args.task_port, addresses)
        return found

    def _open_link(self, addr: str) -> _TcpLink:
        tls = None
        if self.cert_dir is not None:
            try:
                tls = _security.client_tls_context(self.cert_dir)
            except (OSError, ValueError) as e:
                raise StartupError(f"manager {self.uid} of block {self.block_id} cannot load "
                                   f"the run's TLS certificates from --cert_dir "
                                   f"{self.cert_dir}: {e}") from None
        try:
            return _TcpLink(self.uid, addr, self.args.task_port, self.args.result_port,
                            self.args.address_probe_timeout, tls)
        except ssl.SSLError as e:
            raise StartupError(f"manager {self.uid} of block {self.block_id}: the TLS "
                               f"handshake with the interchange at {addr} (port "
                               f"{self.args.task_port}) failed: {e}; are --cert_dir "
                               f"{self.cert_dir} and the interchange from the same run, and "
                               "is the executor encrypted?") from None
        except OSError as e:
            raise StartupError(f"manager {self.uid} of block {self.block_id} cannot connect "
                               f"to the interchange at {addr} (ports {self.args.task_port} "
                               f"and {self.args.result_port}): {e}") from None

    def register(self, addr: str) -> None:
        """Register with the interchange; raise StartupError if refused or unanswered."""
        self.link = link = self._open_link(addr)
        installed = installed_packages()
        info = {
            "manager_id": self.uid, "block_id": self.block_id, "hostname": self.hostname,
            "pid": os.getpid(), "worker_count": self.worker_count,
            "prefetch_capacity": self.prefetch, "python": python_version(),
            "python_full": platform.python_version(), "htex_version": VERSION,
            "cpu_count": len(self.cpus), "accelerators": self.accelerators,
            "total_memory": psutil.virtual_memory().total, "os": platform.platform(),
            "parsl_version": installed["parsl"], "packages": installed,
        }
        wait = max(self.args.address_probe_timeout, self.hb_threshold)
        try:
            reply = link.request(P.REG + json.dumps(info).encode(), wait)
        except ConnectionError as e:
            raise StartupError(f"manager {self.uid}: the interchange at {addr} ended the "
                               f"registration ({e}); it may expect encrypted "
                               "connections") from None
        if reply is None:
            why = ("the interchange may not be encrypted" if self.cert_dir
                   else "the interchange may expect encrypted connections")
            raise StartupError(f"manager {self.uid}: no answer to registration from the "
                               f"interchange at {addr} within {wait} s; {why}")
        tag, body = reply[:1], reply[1:]
        if tag == P.NO:
            reason = json.loads(body).get("reason", "no reason given")
            raise StartupError(f"manager {self.uid} of block {self.block_id}: registration "
                               f"refused by the interchange: {reason}")
        if tag != P.OK:
            raise StartupError(f"manager {self.uid}: unexpected reply {reply[:16]!r} to "
                               "registration")
        self.last_from_interchange = time.monotonic()
        self.run_id = json.loads(body or b"{}").get("run_id")
        set_process_context(run_id=self.run_id)
        logger.info("Registered with the interchange at %s as manager %s of block %s with %d "
                    "workers", addr, self.uid, self.block_id, self.worker_count)

    # ------------------------------------------------------------------ workers

    def spawn(self, w: _Worker) -> None:
        w.generation += 1
        w.task = None
        env = os.environ.copy()
        env["PARSL_WORKER_RANK"] = str(w.rank)
        env["PARSL_WORKER_COUNT"] = str(self.worker_count)
        env["PARSL_WORKER_POOL_ID"] = self.uid
        env["PARSL_WORKER_BLOCK_ID"] = str(self.block_id)
        if self.accelerators:
            acc = self.accelerators[w.rank]
            for var in ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK"):
                env[var] = acc
            env["ZE_ENABLE_PCI_ID_DEVICE_ORDER"] = "1"
        cpus = self.cpu_sets[w.rank]
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        cmd = [sys.executable, "-m", "parsl_htex.worker", "--task-fd", str(task_r),
               "--result-fd", str(result_w), "--rank", str(w.rank),
               "--manager-pid", str(os.getpid()),
               "--logfile", os.path.join(self.logdir, f"worker_{w.rank}.log")]
        if cpus:
            cmd += ["--cpus", ",".join(map(str, cpus))]
            env.update(affinity_environment(cpus))
        if self.args.debug:
            cmd.append("--debug")
        if self.args.working_dir:
            cmd += ["--working-dir", self.args.working_dir]
        if self.args.logconf not in (None, "None"):
            cmd += ["--logconf", self.args.logconf]
        cmd += ["--context", json.dumps(self.log_context)]
        if self.args.enable_mpi_mode:
            cmd += ["--mpi-launcher", self.args.mpi_launcher]
            env[NODE_LOCKS_ENV] = os.path.join(self.logdir, "mpi-nodes")
        if self.args.task_observer:
            cmd += ["--task-observer", self.args.task_observer]
        try:
            w.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                      pass_fds=(task_r, result_w))
        finally:
            os.close(task_r)
            os.close(result_w)
        os.set_blocking(task_w, False)
        os.set_blocking(result_r, False)
        for fd in (task_w, result_r):
            try:
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)
            except OSError as e:
                logger.debug("Could not enlarge a worker pipe to %d bytes: %s", _PIPE_SIZE, e)
        w.writer = MessageWriter(task_w)
        w.reader = MessageReader(result_r, P.RESULT_HEADER)
        w.started = time.monotonic()
        w.pidfd = os.pidfd_open(w.proc.pid)
        self.by_pidfd[w.pidfd] = w
        self.by_result_fd[result_r] = w
        self.by_task_fd[task_w] = w
        self.poller.register(w.pidfd, select.POLLIN)
        self.poller.register(result_r, select.POLLIN)
        self.idle.append(w)
        logger.info("Started worker %d (generation %d, pid %d)", w.rank, w.generation,
                    w.proc.pid, extra={"worker_id": w.rank})

    def _close_pipes(self, w: _Worker) -> None:
        if w.reader is not None:
            fd = w.reader.fd
            if fd in self.by_result_fd:
                self.poller.unregister(fd)
                del self.by_result_fd[fd]
            os.close(fd)
            w.reader = None
        if w.writer is not None:
            fd = w.writer.fd
            if w.writer.pending:
                self.poller.unregister(fd)
            self.by_task_fd.pop(fd, None)
            os.close(fd)
            w.writer = None

    def worker_died(self, w: _Worker) -> None:
        assert w.proc is not None and w.pidfd is not None
        code = w.proc.wait()
        if w.reader is not None and w.reader.fd in self.by_result_fd:
            self.read_worker(w)
        self.poller.unregister(w.pidfd)
        del self.by_pidfd[w.pidfd]
        os.close(w.pidfd)
        w.pidfd = None
        self._close_pipes(w)
        if w in self.idle:
            self.idle.remove(w)
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        # Before the task is reported lost (and maybe retried), what it started must end.
        self.end_strays(rank=w.rank)
        if w.task is not None and self._ending_with_block(code):
            # The batch system is ending the whole block (walltime, scancel): the task is
            # lost with its manager, which the interchange reports with the block's fate.
            logger.info("Worker %d (pid %d) %s as the block ends; task %s goes with it",
                        w.rank, w.proc.pid, how, P.key_ids(w.task)[1],
                        extra={"worker_id": w.rank})
            w.task = None
        if w.task is not None:
            htex_id, dfk_id = P.key_ids(w.task)
            logger.error("Worker %d (pid %d) %s while running task %s", w.rank, w.proc.pid,
                         how, dfk_id, extra={"task_id": dfk_id, "executor_task_id": htex_id,
                                             "worker_id": w.rank})
            err = WorkerLost(f"{self.uid}:{w.rank}", self.hostname,
                             f"worker process {w.proc.pid} {how}")
            self.results.append(P.result_record(w.task, _serial.RESULT_EXECUTOR_ERROR,
                                                _serial.serialize(err)))
            w.task = None
        else:
            logger.error("Worker %d (pid %d) %s while idle", w.rank, w.proc.pid, how,
                         extra={"worker_id": w.rank})
        if self.stopping or self.draining:
            return
        if time.monotonic() - w.started < _RESTART_BACKOFF:
            time.sleep(_RESTART_BACKOFF)
        self.spawn(w)

    @staticmethod
    def _ending_with_block(code: int) -> bool:
        """Whether a worker's death is part of the whole block being stopped.

        A batch system signals every process of the job, in no set order: a worker
        killed by SIGTERM waits up to _SIGTERM_SIBLING_WAIT for the manager's own signal.
        """
        if code != -signal.SIGTERM:
            return False
        deadline = time.monotonic() + _SIGTERM_SIBLING_WAIT
        while _stop_signal is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the signal handler runs in this (main) thread meanwhile
        return _stop_signal is not None

    def _live_worker_pids(self) -> Set[int]:
        return {w.proc.pid for w in self.workers
                if w.proc is not None and w.proc.returncode is None}

    def end_strays(self, rank: Optional[int] = None, include_workers: bool = False) -> int:
        """Kill, with their descendants, and reap this manager's children that are not
        live workers: processes whose worker died (reparented here, see
        :func:`become_subreaper`). With ``rank``, only those started under worker slot
        ``rank`` (by their inherited ``PARSL_WORKER_RANK``; those without one too), so a
        daemon another worker's task left is not taken down. With ``include_workers``
        every descendant goes (at shutdown, after the workers were asked to stop).
        Returns how many were killed."""
        me = psutil.Process()
        deadline = time.monotonic() + _STRAY_KILL_WAIT
        killed = 0
        while True:
            keep = set() if include_workers else self._live_worker_pids()
            try:
                strays = [c for c in me.children()
                          if c.pid not in keep and (rank is None or _rank_of(c) in
                                                    (None, str(rank)))]
            except psutil.Error as e:
                logger.warning("Cannot list this manager's child processes: %s", e)
                return killed
            if not strays:
                return killed
            for stray in strays:
                try:
                    victims = [*stray.children(recursive=True), stray]
                except psutil.Error:
                    victims = [stray]
                for victim in victims:
                    try:
                        if victim.status() != psutil.STATUS_ZOMBIE:
                            victim.kill()
                            killed += 1
                            logger.info("Killed process %d (%s) left by a worker", victim.pid,
                                        " ".join(victim.cmdline())[:200])
                    except psutil.Error:
                        continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.error("Processes %s left by workers did not exit within %.0f s of "
                             "SIGKILL", [p.pid for p in strays], _STRAY_KILL_WAIT)
                return killed
            # Reaps them (they are our children); their own children are reparented
            # here in turn and handled on the next round.
            psutil.wait_procs(strays, timeout=min(remaining, 1.0))

    def reap_exited_strays(self) -> None:
        """Reap processes reparented here that exited on their own (no zombies pile up);
        worker processes are left for :meth:`worker_died`."""
        workers = self._live_worker_pids()
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid in workers:
                return
            os.waitpid(info.si_pid, 0)

    def read_worker(self, w: _Worker) -> None:
        """Collect the results a worker has written; stop watching its pipe at EOF."""
        assert w.reader is not None
        records, eof = w.reader.read()
        for record in records:
            if record[:P.KEY_SIZE] != w.task:
                if record[P.KEY_SIZE] == P.MONITORING:
                    self.results.append(record)  # a monitoring batch, not the task's result
                    continue
                logger.warning("Worker %d sent a result for a task it was not given; dropped",
                               w.rank)
                continue
            self.results.append(record)
            if self.hop_events:
                htex_id, dfk_id = P.key_ids(record)
                logger.debug("Result of task %s from worker %d", dfk_id, w.rank,
                             extra={"task_id": dfk_id, "executor_task_id": htex_id,
                                    "worker_id": w.rank, "event": "mgr_result"})
            w.task = None
            self.idle.append(w)
            self.tasks_done += 1
        if eof:
            fd = w.reader.fd
            if fd in self.by_result_fd:
                self.poller.unregister(fd)
                del self.by_result_fd[fd]

    def flush_worker(self, w: _Worker) -> None:
        assert w.writer is not None
        try:
            done = w.writer.flush()
        except OSError as e:
            logger.warning("Worker %d stopped reading its task pipe: %s", w.rank, e)
            done = True
        if done:
            self.poller.unregister(w.writer.fd)

    # ------------------------------------------------------------------ event loop

    def handle_interchange(self) -> None:
        assert self.link is not None
        for body in self.link.receive():
            self.last_from_interchange = time.monotonic()
            tag = bytes(body[:1])
            if tag == P.TASKS:
                try:
                    tasks = P.split_tasks(body)
                except P.MalformedMessage as e:
                    logger.warning("Dropping a malformed task batch from the interchange: %s", e)
                    continue
                self.pending.extend(tasks)
                events = self.task_events
                if events is not None:
                    for key, _ in tasks:
                        htex_id, dfk_id = P.key_ids(key)
                        events.add("mgr_received", dfk_id, executor_task_id=htex_id)
            elif tag == P.HB:
                continue
            elif tag == P.DRAIN:
                # Ordered after every task the interchange sent us before it saw our DRAIN.
                self.drain_acked = True
            elif tag == P.STOP:
                logger.info("Interchange asked this manager to stop")
                self.stopping = True
                return
            else:
                logger.warning("Dropping an unknown message %r from the interchange",
                               bytes(body[:16]))

    def dispatch(self) -> None:
        while self.idle and self.pending:
            w = self.idle.popleft()
            key, record = self.pending.popleft()
            assert w.writer is not None
            w.task = key
            try:
                complete = w.writer.write((record,))
            except OSError as e:
                logger.warning("Worker %d cannot take tasks (%s); waiting for it to exit",
                               w.rank, e)
                continue
            if self.hop_events:
                htex_id, dfk_id = P.key_ids(key)
                logger.debug("Task %s to worker %d", dfk_id, w.rank,
                             extra={"task_id": dfk_id, "executor_task_id": htex_id,
                                    "worker_id": w.rank, "event": "mgr_to_worker"})
            if not complete:
                self.poller.register(w.writer.fd, select.POLLOUT)

    def flush_results(self) -> None:
        if not self.results:
            return
        assert self.link is not None
        self.results.insert(0, P.RESULTS)
        message = b"".join(self.results)
        if len(message) > _tcp.MAX_MESSAGE:  # over 4 GB: the interchange takes no more
            for part in _tcp.split_batch(P.RESULTS, self.results[1:]):
                self.link.send_results(part)
        else:
            self.link.send_results(message)
        self.results = []

    def busy(self) -> bool:
        return bool(self.pending) or any(w.task is not None for w in self.workers)

    def housekeeping(self, now: float) -> bool:
        """Heartbeat and drain checks; return False when the manager should exit."""
        assert self.link is not None
        if now >= self.next_heartbeat:
            self.send_interchange(P.HB + str(self.tasks_done).encode())
            self.next_heartbeat = now + self.hb_period
        if self.subreaper:
            self.reap_exited_strays()
        if now - self.last_from_interchange > self.hb_threshold:
            logger.error("No message from the interchange for %.1f s (hb_threshold %s s); "
                         "assuming it is gone and exiting",
                         now - self.last_from_interchange, self.hb_threshold)
            return False
        drain = self.args.drain_period
        if drain is not None and not self.draining and now - self.start_time >= drain:
            logger.info("Drain period of %s s is over: taking no new tasks", drain)
            self.draining = True
            self.send_interchange(P.DRAIN)
        if self.draining and self.drain_acked and not self.busy():
            logger.info("Drained: all tasks done, exiting")
            self.flush_results()
            # BYE follows the last results on the same connection, so the interchange
            # cannot see this manager leave before it has every result.
            self.link.send_results(P.BYE)
            return False
        return True

    def send_interchange(self, message: bytes) -> None:
        """Send on the task connection."""
        assert self.link is not None
        self.link.send(message)

    def request_stop(self) -> None:
        """SIGTERM while running: stop at the next loop turn (a wakeup fd ends the poll).

        Raising from the signal handler instead could land inside a log call or an event
        flush and drop the records that flush had taken from its buffer.
        """
        self.stopping = True

    def run(self) -> int:
        assert self.link is not None
        for w in self.workers:
            self.spawn(w)
        self.link.attach(self.poller)
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        wake_fd = wake_r.fileno()
        self.poller.register(wake_fd, select.POLLIN)
        global _running, _past_loop
        _running = self
        try:
            return self._loop(wake_r)
        finally:
            _past_loop = True
            _running = None
            signal.set_wakeup_fd(-1)
            self.poller.unregister(wake_fd)
            wake_r.close()
            wake_w.close()

    def _loop(self, wake: socket.socket) -> int:
        wake_fd = wake.fileno()
        link = self.link
        assert link is not None
        task_fd = link.fd
        result_fd = link.result_fd
        hk_ms = max(10, int(min(self.hb_period, self.hb_threshold) * 1000 / 2))
        next_hk = 0.0
        next_event_flush = 0.0
        # The drain deadline and a draining manager's exit are checked on time rather than
        # at the next heartbeat-paced housekeeping (up to hb_period / 2 later).
        drain = self.args.drain_period
        drain_at = self.start_time + drain if drain is not None else None
        while not self.stopping:
            timeout = hk_ms if not self.results else 0
            if self.draining:
                timeout = min(timeout, _DRAINING_CHECK_MS)
                next_hk = 0.0
            elif drain_at is not None:
                until_drain = int((drain_at - time.monotonic()) * 1000) + 1
                timeout = max(0, min(timeout, until_drain))
                next_hk = min(next_hk, drain_at)
            if self.task_events:  # buffered events are written within FLUSH_PERIOD
                timeout = min(timeout, _EVENT_FLUSH_MS)
            from_interchange = link.pending_input()
            if from_interchange:
                timeout = 0
            events = self.poller.poll(timeout)
            for what, mask in events:
                if what == task_fd:
                    if mask & select.POLLOUT:
                        link.writable(what)
                    if mask & ~select.POLLOUT:
                        from_interchange = True
                elif what == result_fd:
                    link.writable(what)
                elif what in self.by_result_fd:
                    self.read_worker(self.by_result_fd[what])
                elif what in self.by_pidfd:
                    self.worker_died(self.by_pidfd[what])
                elif what in self.by_task_fd:
                    self.flush_worker(self.by_task_fd[what])
                elif what == wake_fd:
                    try:
                        wake.recv(512)
                    except BlockingIOError:
                        pass
            if from_interchange:
                self.handle_interchange()
            if link.gone is not None:
                logger.error("Lost the connection to the interchange (%s); exiting",
                             link.gone)
                break
            # Results first: the interchange sends this manager its next tasks only once
            # it has seen them, and that round trip is longer than a pipe write to a worker.
            self.flush_results()
            self.dispatch()
            now = time.monotonic()
            if self.task_events is not None and now >= next_event_flush:
                self.task_events.flush()
                next_event_flush = now + FLUSH_PERIOD
            if now >= next_hk:
                next_hk = now + hk_ms / 1000
                if not self.housekeeping(now):
                    break
        if self.stopping and _stop_signal is not None:
            logger.info("Manager exiting on signal %d", _stop_signal)
            return 128 + _stop_signal
        return 0

    def shutdown(self) -> None:
        """Stop every worker (TERM, then KILL after a grace period) and close sockets."""
        # The provider's cancel sends SIGTERM to the whole block while this runs; dying
        # of it here would kill the workers (PR_SET_PDEATHSIG) before they have written
        # their last log records. The provider's SIGKILL still bounds the wait.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.stopping = True
        if self.task_events is not None:
            self.task_events.flush()
        procs = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for w in self.workers:
            self._close_pipes(w)
        for p in procs:
            p.terminate()
        deadline = time.monotonic() + _WORKER_STOP_GRACE
        for p in procs:
            try:
                p.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("Worker pid %d ignored SIGTERM; killing it", p.pid)
                p.kill()
                p.wait(timeout=_WORKER_STOP_GRACE)
        # Commands and processes the tasks started end with the block.
        self.end_strays(include_workers=True)
        if self.link is not None:
            self.flush_results()
            # A bounded linger lets the last results and a drained manager's BYE reach
            # the interchange; if it is gone, this costs at most _FINAL_SEND_LINGER.
            self.link.close(_FINAL_SEND_LINGER)
        logger.info("Manager %s stopped", self.uid)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="process_worker_pool",
                                description="HighThroughputExecutor worker pool (manager)")
    p.add_argument("-d", "--debug", action="store_true", help="log at DEBUG level")
    p.add_argument("-a", "--addresses", required=True,
                   help="comma-separated addresses of the interchange, probed in order")
    p.add_argument("-t", "--task_port", type=int, required=True)
    p.add_argument("-r", "--result_port", type=int, required=True)
    p.add_argument("--cert_dir", default=None,
                   help="the run's certificates directory (TLS to the interchange); "
                        "None: unencrypted")
    p.add_argument("-l", "--logdir", default="process_worker_pool_logs")
    p.add_argument("-u", "--uid", default=None, help="manager id (default: random)")
    p.add_argument("-b", "--block_id", default="0")
    p.add_argument("-c", "--cores_per_worker", type=float, default=1.0)
    p.add_argument("-m", "--mem_per_worker", type=float, default=0.0)
    p.add_argument("--max_workers_per_node", default="inf")
    p.add_argument("-p", "--prefetch_capacity", type=int, default=0)
    p.add_argument("--hb_period", type=float, default=30)
    p.add_argument("--hb_threshold", type=float, default=120)
    p.add_argument("--drain_period", type=float, default=None)
    p.add_argument("--address_probe_timeout", type=float, default=30)
    p.add_argument("--poll", type=float, default=10, help="poll period in milliseconds")
    p.add_argument("--cpu-affinity", dest="cpu_affinity", default="none")
    p.add_argument("--available-accelerators", dest="available_accelerators", nargs="*",
                   default=[])
    p.add_argument("--enable_mpi_mode", action="store_true")
    p.add_argument("--mpi-launcher", dest="mpi_launcher", default="mpiexec")
    p.add_argument("--working-dir", dest="working_dir", default=None)
    p.add_argument("--logconf", default=None,
                   help="pickled parsl.logconfigs.LogConfig of the run (None: text logs)")
    p.add_argument("--task-observer", dest="task_observer", default=None,
                   help="passed to each worker (set by a monitoring plugin)")
    return p


def _parse_drain(value: Any) -> Optional[float]:
    return None if value in (None, "None") else float(value)


def main(argv: Optional[List[str]] = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    # Accept the literal "None" Parsl-style launch commands put in for unset values.
    raw = [a for a in raw if a != "--drain_period=None"]
    args = build_parser().parse_args(raw)
    args.drain_period = _parse_drain(args.drain_period)
    args.uid = args.uid or uuid.uuid4().hex[:12]
    setup_process_logging(os.path.join(args.logdir, f"block-{args.block_id}", args.uid),
                          "manager", load_log_config(args.logconf), args.debug,
                          executor=os.path.basename(os.path.normpath(args.logdir)),
                          block_id=args.block_id, manager_id=args.uid)
    logger.info("process_worker_pool %s starting: pid %d, python %s, parsl-htex %s, args %s",
                args.uid, os.getpid(), platform.python_version(), VERSION, raw)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    manager: Optional[Manager] = None
    try:
        manager = Manager(args)
        addr = manager.probe_addresses()
        manager.register(addr)
        return manager.run()
    except StartupError as e:
        logger.error("%s", e)
        print(f"process_worker_pool: ERROR: {e}", file=sys.stderr, flush=True)
        return 2
    except SystemExit as e:
        logger.info("Manager exiting on signal or request (%s)", e.code)
        return 0 if e.code in (None, 0) else int(e.code) if isinstance(e.code, int) else 1
    except Exception as e:
        logger.exception("Manager failed")
        print(f"process_worker_pool: ERROR: {type(e).__name__}: {e}", file=sys.stderr,
              flush=True)
        return 1
    finally:
        if manager is not None:
            manager.shutdown()


#: The manager in its task loop, which a signal asks to stop instead of interrupting.
_running: Optional[Manager] = None
#: The stop signal received, if any.
_stop_signal: Optional[int] = None
#: Set when the task loop has ended: shutdown follows and must not be cut short.
_past_loop = False


def _on_stop_signal(signum: int, _frame: Any) -> None:
    """Ask a running manager to stop; before its loop, just exit; after it, only record
    the signal: raising then could land inside ``shutdown`` before it ignores SIGTERM,
    and a manager exiting there takes its workers with it (PR_SET_PDEATHSIG) before they
    have written their last records (the block's cancel sends SIGTERM to the whole group
    right as the interchange stops the manager)."""
    global _stop_signal
    _stop_signal = signum
    if _running is not None:
        _running.request_stop()
    elif not _past_loop:
        raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
