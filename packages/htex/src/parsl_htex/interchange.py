"""The interchange: queues tasks from the executor and hands them to managers.

Started by the executor (``interchange_launch_cmd``, default ``python -m
parsl_htex.interchange``) with its configuration as one JSON document on stdin. It binds
its sockets, prints one JSON line with the chosen ports on stdout, and then runs a
single-threaded event loop:

- task batches from the executor go into a queue; managers with free capacity (workers
  plus ``prefetch_capacity`` minus tasks they hold) get them in batches, in the order the
  ``manager_selector`` gives;
- result batches from managers are forwarded to the executor as they are, after checking
  that each result belongs to a task the sending manager holds;
- managers register (refused on a Python major.minor or parsl-htex version mismatch),
  heartbeat, drain and leave; a manager silent for ``heartbeat_threshold`` seconds is
  declared lost, its tasks fail with :class:`~parsl_htex.errors.ManagerLost`, and anything
  it sends afterwards is dropped;
- commands from the executor (counts, manager lists, holding managers for scale-in,
  shutdown) are answered on a separate socket.

The executor's sockets are ZeroMQ (CurveZMQ when the run is encrypted). The managers'
two connections (task and result) are TCP (:mod:`parsl_htex._tcp`, handled by
:class:`_ManagerConnections`), TLS when the run is encrypted; each message reaches
:meth:`Interchange.task_port_message` or :meth:`Interchange.result_port_message` with
the id of the manager that sent it.

Malformed messages are logged and dropped. The interchange exits when told to, and on its
own when the executor process that started it is gone.
"""
from __future__ import annotations

import base64
import collections
import errno
import json
import logging
import math
import os
import pickle
import random
import select
import signal
import socket
import ssl
import sys
import time
from functools import partial
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple, Union

import zmq

from parsl.log_context import FLUSH_PERIOD, TASK_EVENTS, TaskEvents
from parsl_htex import _protocol as P
from parsl_htex import _security, _serial, _tcp
from parsl_htex._logs import load_log_config, setup_process_logging
from parsl_htex._messages import heartbeat_problem, monitoring_problem, registration_problem
from parsl_htex._net import tcp_url
from parsl_htex._pending import PendingTasks
from parsl_htex._zmq import DRAIN_BATCH, Backlog, notification_fd, ready_messages
from parsl_htex.errors import ManagerLost
from parsl_htex.manager_selector import ManagerSelector, RandomManagerSelector
from parsl_htex.version import VERSION

logger = logging.getLogger("parsl_htex.interchange")

_MAX_TASKS_PER_MESSAGE = 1024
#: Longest a result waits in the interchange for others to share its message to the
#: executor (seconds). Only while other tasks are still running: the result of the last
#: outstanding task, like every task of a chain of dependent apps, goes at once.
RESULT_COALESCE_WINDOW = 0.001
_WARN_EVERY = 100
_RESULT_TAGS = frozenset({_serial.RESULT_OK, _serial.RESULT_TASK_ERROR,
                          _serial.RESULT_EXECUTOR_ERROR})
_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
#: Longest message a peer may send before its connection belongs to a registered manager
#: (a registration, with its list of installed packages, is a few tens of kilobytes).
_UNREGISTERED_LIMIT = 1 << 20
#: Longest the interchange waits at exit for its last messages (STOP) to be sent (s).
_STOP_LINGER = 0.2


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class BindFailure(Exception):
    """A socket cannot listen where the configuration says; the message names where and
    which executor parameter chose it, and is reported to the executor at start."""


def local_addresses() -> List[str]:
    """Every IP address of this host's interfaces (for error messages)."""
    import psutil

    found = [a.address.split("%", 1)[0] for nics in psutil.net_if_addrs().values()
             for a in nics if a.family in (socket.AF_INET, socket.AF_INET6)]
    return list(dict.fromkeys(found))


class _Manager:
    """What the interchange knows about one registered manager."""

    __slots__ = ("active", "block_id", "capacity", "draining", "hostname", "idle_since",
                 "info", "last_seen", "manager_id", "tasks", "worker_count")

    def __init__(self, manager_id: bytes, info: Dict[str, Any]) -> None:
        self.manager_id = manager_id
        self.info = info
        self.block_id = str(info.get("block_id"))
        self.hostname = str(info.get("hostname", "unknown"))
        self.worker_count = int(info.get("worker_count", 1))
        self.capacity = self.worker_count + int(info.get("prefetch_capacity", 0))
        self.tasks: Dict[bytes, None] = {}
        self.last_seen = time.monotonic()
        self.idle_since: Optional[float] = time.monotonic()
        self.active = True
        self.draining = False

    def describe(self, now: float) -> Dict[str, Any]:
        return {"manager_id": self.manager_id.decode(errors="replace"),
                "block_id": self.block_id, "hostname": self.hostname,
                "worker_count": self.worker_count, "tasks": len(self.tasks),
                "idle_duration": (now - self.idle_since) if self.idle_since is not None else 0.0,
                "active": self.active, "draining": self.draining,
                "python": self.info.get("python"), "htex_version": self.info.get("htex_version"),
                "pid": self.info.get("pid"),
                # Parsl's names for the same facts.
                "manager": self.manager_id.decode(errors="replace"),
                "python_version": self.info.get("python_full"),
                "parsl_version": self.info.get("parsl_version")}


def _ids(m: _Manager) -> Dict[str, Any]:
    """parsl.log_context ids of a record about manager ``m``."""
    return {"manager_id": m.manager_id.decode(errors="replace"), "block_id": m.block_id}


class Interchange:
    """The event loop described in the module docstring."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.label = config.get("label", "htex")
        self.cert_dir: Optional[str] = config.get("cert_dir")
        self.hb_period = float(config["heartbeat_period"])
        self.hb_threshold = float(config["heartbeat_threshold"])
        self.parent_pid = int(config.get("parent_pid", os.getppid()))
        selector = config.get("manager_selector")
        self.selector: ManagerSelector = (pickle.loads(base64.b64decode(selector)) if selector
                                          else RandomManagerSelector())
        self.ctx = zmq.Context()
        self.auth = (_security.start_authenticator(self.ctx, self.cert_dir)
                     if self.cert_dir else None)
        try:
            self._bind_all(config)
        except BindFailure:
            if self.auth is not None:
                self.auth.stop()
            self.ctx.destroy(linger=0)
            raise
        self.managers: Dict[bytes, _Manager] = {}
        #: Every block any of whose managers registered, including blocks since gone.
        self.connected_block_history: Set[str] = set()
        self.lost: Set[bytes] = set()
        #: ``(key, task record)`` of tasks waiting for a manager, oldest first.
        self.pending = PendingTasks()
        self.result_backlog: Deque[bytes] = collections.deque()
        #: Result records (or runs of them) not yet forwarded to the executor.
        self.out_records: List[Any] = [P.RESULTS]
        self.out_count = 0
        #: Tasks held by managers (the sum of their ``tasks``), kept as a counter.
        self.in_flight = 0
        self.last_result_flush = 0.0
        self.stopping = False
        #: Per-task events, when logged (level TASK_EVENTS or lower); see log_context.
        self.task_events = TaskEvents(logger) if logger.isEnabledFor(TASK_EVENTS) else None
        self.dropped = 0
        #: Sockets polled by descriptor whose last drain stopped with messages waiting.
        self.backlog: Backlog = set()
        #: The managers' TCP connections (TLS when encrypted).
        task_listeners, result_listeners = self.listeners
        self.tcp = _ManagerConnections(
            self, task_listeners, result_listeners,
            _security.server_tls_context(self.cert_dir) if self.cert_dir else None)

    def _bind_all(self, config: Dict[str, Any]) -> None:
        loopback = [config.get("loopback_address", "127.0.0.1")]
        client_range = tuple(config.get("interchange_port_range", (55000, 56000)))
        client = ("loopback_address", "interchange_port_range", None, client_range)
        self.client_tasks = self._bind(zmq.PULL, loopback, *client)
        self.client_results = self._bind(zmq.PUSH, loopback, *client)
        self.command = self._bind(zmq.ROUTER, loopback, *client)
        ports = config.get("worker_ports") or (None, None)
        worker_range = tuple(config.get("worker_port_range", (54000, 55000)))
        bind_addrs = list(config.get("worker_bind_addresses") or ["*"])
        port_param = (config.get("worker_ports_param", "worker_ports") if ports[0]
                      else "worker_port_range")
        task_listeners = self._listen(bind_addrs, "address", port_param, ports[0],
                                      worker_range)
        try:
            result_listeners = self._listen(bind_addrs, "address", port_param, ports[1],
                                            worker_range)
        except BindFailure:
            for sock in task_listeners:
                sock.close()
            raise
        self.listeners = (task_listeners, result_listeners)

    def _listen(self, addresses: List[str], addr_param: str, port_param: str,
                port: Optional[int], port_range: Tuple[int, ...]) -> List[socket.socket]:
        """Plain TCP listeners on every one of ``addresses`` at one port: ``port``, or a
        free one of ``port_range`` (tried at random, as ZeroMQ does for the other
        sockets). Raises :class:`BindFailure` as :meth:`_bind` does."""
        if port:
            return self._listen_at(addresses, port, addr_param, port_param, False)
        low, high = int(port_range[0]), int(port_range[1])
        for _ in range(200):
            try:
                return self._listen_at(addresses, random.randrange(low, high), addr_param,
                                       port_param, True)
            except _PortBusy:
                continue
        raise BindFailure(f"no free port in {port_param}=({low}, {high}) on "
                          f"{addresses[0]!r} after 200 tries")

    def _listen_at(self, addresses: List[str], port: int, addr_param: str, port_param: str,
                   busy_ok: bool) -> List[socket.socket]:
        """Listeners on ``port`` of every address; with ``busy_ok`` a port in use raises
        :class:`_PortBusy` (so another is tried) rather than :class:`BindFailure`."""
        made: List[socket.socket] = []
        for address in addresses:
            try:
                made.append(_listener(address, port))
            except OSError as e:
                for sock in made:
                    sock.close()
                if busy_ok and e.errno == errno.EADDRINUSE:
                    raise _PortBusy() from None
                raise BindFailure(self._bind_message(address, port, addr_param, port_param,
                                                     e)) from None
        return made

    def _bind(self, kind: int, addresses: List[str], addr_param: str, port_param: str,
              port: Optional[int], port_range: Tuple[int, ...]) -> zmq.Socket[Any]:
        """A new socket listening on every one of ``addresses`` at one port: ``port``, or
        a free one of ``port_range``.

        Raises :class:`BindFailure` naming the address, the port and the executor
        parameters (``addr_param``, ``port_param``) that chose them.
        """
        sock = self.ctx.socket(kind)
        sock.linger = 0
        sock.sndhwm = 0
        sock.rcvhwm = 0
        sock.ipv6 = True
        _security.make_server(sock, self.cert_dir)
        try:
            if port:
                for address in addresses:
                    self._bind_one(sock, address, port, addr_param, port_param)
            else:
                self._bind_in_range(sock, addresses, addr_param, port_param, port_range)
        except BindFailure:
            sock.close(linger=0)
            raise
        return sock

    def _bind_in_range(self, sock: zmq.Socket[Any], addresses: List[str], addr_param: str,
                       port_param: str, port_range: Tuple[int, ...]) -> None:
        low, high = int(port_range[0]), int(port_range[1])
        for attempt in range(20):
            try:
                chosen = sock.bind_to_random_port(tcp_url(addresses[0]), min_port=low,
                                                  max_port=high, max_tries=200)
            except zmq.ZMQBindError:
                raise BindFailure(f"no free port in {port_param}=({low}, {high}) on "
                                  f"{addresses[0]!r} after 200 tries") from None
            except zmq.ZMQError as e:
                raise BindFailure(self._bind_message(addresses[0], None, addr_param,
                                                     port_param, e)) from None
            bound = [tcp_url(addresses[0], chosen)]
            try:
                for address in addresses[1:]:
                    self._bind_one(sock, address, chosen, addr_param, port_param)
                    bound.append(tcp_url(address, chosen))
                return
            except BindFailure:
                # The port is free on the first address only: try another, a few times.
                if attempt == 19:
                    raise
                for url in bound:
                    sock.unbind(url)

    def _bind_one(self, sock: zmq.Socket[Any], address: str, port: int, addr_param: str,
                  port_param: str) -> None:
        try:
            sock.bind(tcp_url(address, port))
        except zmq.ZMQError as e:
            raise BindFailure(self._bind_message(address, port, addr_param, port_param,
                                                 e)) from None

    @staticmethod
    def _bind_message(address: str, port: Optional[int], addr_param: str, port_param: str,
                      e: Union[zmq.ZMQError, OSError]) -> str:
        text = f"cannot listen on {tcp_url(address, port or '<port>')}: {e.strerror}"
        if e.errno == errno.EADDRINUSE:
            return f"{text}; port {port} (from {port_param}) is used by another process"
        if e.errno in (errno.EADDRNOTAVAIL, errno.ENODEV, errno.EINVAL):
            return (f"{text}; {address!r} (from {addr_param}) is not an address of this host, "
                    f"whose addresses are {', '.join(local_addresses())}")
        return f"{text} (from {addr_param} and {port_param})"

    @staticmethod
    def _port(sock: zmq.Socket[Any]) -> int:
        endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return int(endpoint.rsplit(":", 1)[1])

    def ports(self) -> Dict[str, int]:
        return {"client_tasks": self._port(self.client_tasks),
                "client_results": self._port(self.client_results),
                "command": self._port(self.command),
                **self._worker_ports()}

    def _worker_ports(self) -> Dict[str, int]:
        tasks, results = self.listeners
        return {"worker_task": int(tasks[0].getsockname()[1]),
                "worker_result": int(results[0].getsockname()[1])}

    # ------------------------------------------------------------------ sending

    def send_client(self, message: bytes) -> None:
        """Send to the executor without ever blocking; keep what cannot go yet."""
        if self.result_backlog:
            self.result_backlog.append(message)
            self._flush_backlog()
            return
        try:
            self.client_results.send(message, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self.result_backlog.append(message)

    def _flush_backlog(self) -> None:
        while self.result_backlog:
            try:
                self.client_results.send(self.result_backlog[0], zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self.result_backlog.popleft()

    def event(self, kind: str, **fields: Any) -> None:
        """Tell the executor about something it should log (and maybe attach to a block)."""
        self.send_client(P.EVENT + json.dumps({"kind": kind, **fields}).encode())

    def _warn_dropped(self, what: str, *args: Any) -> None:
        self.dropped += 1
        if self.dropped <= 10 or self.dropped % _WARN_EVERY == 0:
            logger.warning("Dropped " + what + " (%d dropped so far)", *args, self.dropped)

    # ------------------------------------------------------------------ receiving

    def handle_client_tasks(self, _events: int = _POLLIN) -> None:
        events = self.task_events
        for frame in ready_messages(self.client_tasks, backlog=self.backlog):
            body = frame.buffer
            kind = body[:1]
            priority: Optional[float] = None
            try:
                if kind == P.TASKS:
                    tasks = P.split_tasks(body)
                elif kind == P.PRIORITY_TASKS:
                    priority, tasks = P.split_prioritized_tasks(body)
                else:
                    self._warn_dropped("a message that is not a task batch from the executor")
                    continue
            except P.MalformedMessage as e:
                self._warn_dropped("a malformed task batch from the executor: %s", e)
                continue
            if priority is None:
                self.pending.extend(tasks)
            else:
                self.pending.extend_prioritized(priority, tasks)
            if logger.isEnabledFor(logging.DEBUG):
                for key, _ in tasks:
                    logger.debug("Put task %s onto pending_task_queue (priority %s)",
                                 P.key_ids(key)[0], priority)
            if events is not None:
                for key, _ in tasks:
                    htex_id, dfk_id = P.key_ids(key)
                    events.add("ix_received", dfk_id, executor_task_id=htex_id)

    def task_port_message(self, mid: bytes, body: Union[bytes, memoryview]) -> None:
        """Handle one message a manager sent on its task connection."""
        tag = body[:1]
        if mid in self.lost:
            self._warn_dropped("a %r message from lost manager %r", bytes(body[:8]), mid[:32])
            return
        m = self.managers.get(mid)
        if tag == P.REG:
            self.register(mid, body[1:])
        elif m is None:
            self._warn_dropped("a %r message from unregistered peer %r", bytes(body[:8]),
                               mid[:32])
        elif tag == P.HB:
            problem = heartbeat_problem(bytes(body[1:]))
            if problem is not None:
                self._warn_dropped("a heartbeat from manager %r: %s", mid[:32], problem)
                return
            m.last_seen = time.monotonic()
        elif tag in (P.DRAIN, P.BYE) and len(body) != 1:
            self._warn_dropped("a %r message with %d unexpected bytes from manager %r",
                               bytes(tag), len(body) - 1, mid[:32])
        elif tag == P.DRAIN:
            m.last_seen = time.monotonic()
            m.draining = True
            logger.info("Manager %s of block %s is draining", mid.decode(errors="replace"),
                        m.block_id, extra=_ids(m))
            # The ack follows every task already sent to it; after it, none will come.
            self._send_manager(mid, P.DRAIN)
        elif tag == P.BYE:
            logger.info("Manager %s of block %s left", mid.decode(errors="replace"),
                        m.block_id, extra=_ids(m))
            self.remove_manager(m, "it left while holding tasks")
        else:
            self._warn_dropped("an unknown message %r from manager %r", bytes(body[:8]),
                               mid[:32])

    def register(self, mid: bytes, body: Union[bytes, memoryview]) -> None:
        try:
            info = json.loads(bytes(body))
        except ValueError as e:
            self._warn_dropped("a malformed registration from %r: %s", mid[:32], e)
            return
        if mid in self.managers:
            self._warn_dropped("a second registration of manager %r", mid[:32])
            return
        problem = registration_problem(info)
        if problem is not None:
            self._warn_dropped("the registration of %r: %s", mid[:32], problem)
            self._send_manager(mid, P.NO + json.dumps(
                {"reason": f"invalid registration: {problem}"}).encode())
            return
        theirs = f"python {info.get('python')}, parsl-htex {info.get('htex_version')}"
        ours = f"python {python_version()}, parsl-htex {VERSION}"
        block = info.get("block_id")
        if info.get("python") != python_version() or info.get("htex_version") != VERSION:
            reason = (f"version mismatch: manager {mid.decode(errors='replace')} of block "
                      f"{block} on {info.get('hostname')} runs {theirs}, but the interchange "
                      f"runs {ours}")
            logger.error("Refusing registration: %s", reason)
            self._send_manager(mid, P.NO + json.dumps({"reason": reason}).encode())
            self.event("manager_refused", block_id=block, manager_id=mid.decode(errors="replace"),
                       reason=reason)
            return
        m = _Manager(mid, info)
        self.managers[mid] = m
        self.connected_block_history.add(m.block_id)
        self._send_manager(mid, P.OK + json.dumps({"interchange": ours,
                                                   "run_id": self.config.get("run_id")}).encode())
        logger.info("Registered manager %s of block %s on %s (pid %s) with %d workers, "
                    "capacity %d", mid.decode(errors="replace"), m.block_id, m.hostname,
                    info.get("pid"), m.worker_count, m.capacity, extra=_ids(m))
        self.event("manager_registered", block_id=m.block_id,
                   manager_id=mid.decode(errors="replace"), worker_count=m.worker_count)
        if self.task_events is not None:
            # Queue lengths start with every manager, so short runs have them too.
            self.log_queue_lengths()

    def _send_manager(self, mid: bytes, body: bytes) -> bool:
        return self.tcp.send(mid, body)

    def result_port_message(self, mid: bytes, body: memoryview) -> None:
        """Handle one message a manager sent on its result connection."""
        m = self.managers.get(mid)
        if m is None:
            self._warn_dropped("results from %s manager %r",
                               "lost" if mid in self.lost else "unknown", mid[:32])
            return
        if body[:1] != P.RESULTS:
            if body == P.BYE:
                # Sent after its last results on this connection: nothing is in flight.
                logger.info("Manager %s of block %s left", mid.decode(errors="replace"),
                            m.block_id, extra=_ids(m))
                self.remove_manager(m, "it left while holding tasks")
                return
            self._warn_dropped("a malformed result message from manager %r", mid[:32])
            return
        m.last_seen = time.monotonic()
        self._accept_results(m, body, logger.isEnabledFor(logging.DEBUG))
        if self.out_count >= _MAX_TASKS_PER_MESSAGE:
            self.flush_results()

    def _accept_results(self, m: _Manager, body: memoryview, debug: bool) -> None:
        """Queue for the executor the result records of ``body`` that belong to tasks ``m``
        holds; drop (and count) the others."""
        tasks = m.tasks
        held = len(tasks)
        kept: List[memoryview] = []
        spans, malformed = P.result_spans(body)
        all_kept = malformed is None
        for tag, start, end in spans:
            key = body[start:start + P.KEY_SIZE].tobytes()
            if tag not in _RESULT_TAGS:
                if tag == P.MONITORING:  # checked here: no cost for task results
                    problem = monitoring_problem(key, body[start + P.RESULT_HEADER.size:end])
                    if problem is None:
                        kept.append(body[start:end])  # no task: for the executor
                        continue
                    self._warn_dropped("a monitoring record from manager %r: %s",
                                       m.manager_id[:32], problem)
                    all_kept = False
                    continue
                self._warn_dropped("a result with unknown tag %d from manager %r", tag,
                                   m.manager_id[:32])
                all_kept = False
                continue
            if key not in tasks:
                self._warn_dropped("a result for a task manager %r does not hold",
                                   m.manager_id[:32])
                all_kept = False
                continue
            del tasks[key]
            kept.append(body[start:end])
            if debug:
                htex_id, dfk_id = P.key_ids(key)
                logger.debug("Result of task %s from manager %s", dfk_id,
                             m.manager_id.decode(errors="replace"),
                             extra={"task_id": dfk_id, "executor_task_id": htex_id,
                                    "manager_id": m.manager_id.decode(errors="replace"),
                                    "block_id": m.block_id, "event": "ix_result"})
        if malformed is not None:
            self._warn_dropped("the rest of a malformed result batch from %r: %s",
                               m.manager_id[:32], malformed)
        self.in_flight -= held - len(tasks)
        if not tasks:
            m.idle_since = time.monotonic()
        if all_kept:
            # The usual case: every record is good, so they travel on as one run.
            self.out_records.append(body[1:])
        else:
            self.out_records.extend(kept)
        self.out_count += len(kept)

    def flush_results(self) -> None:
        """Forward the results collected so far to the executor as one message."""
        if not self.out_count:
            return
        message = b"".join(self.out_records)
        self.out_records = [P.RESULTS]
        self.out_count = 0
        self.send_client(message)

    def handle_command(self, _events: int = _POLLIN) -> None:
        sock = self.command
        for _ in range(DRAIN_BATCH):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 3:
                self._warn_dropped("a malformed command with %d frames", len(frames))
                continue
            ident, req_id, body = frames
            try:
                request = json.loads(body)
                reply = self.run_command(request)
            except Exception as e:
                logger.exception("Command %r failed", body[:200])
                reply = {"error": f"{type(e).__name__}: {e}"}
            sock.send_multipart([ident, req_id, json.dumps(reply).encode()])
        self.backlog.add(sock)

    def run_command(self, request: Dict[str, Any]) -> Any:
        op = request.get("op")
        now = time.monotonic()
        if op == "outstanding":
            return len(self.pending) + sum(len(m.tasks) for m in self.managers.values())
        if op == "connected_workers":
            return sum(m.worker_count for m in self.managers.values() if m.active)
        if op == "managers":
            return [m.describe(now) for m in self.managers.values()]
        if op == "manager_packages":
            return {m.manager_id.decode(errors="replace"): m.info.get("packages", {})
                    for m in self.managers.values()}
        if op == "connected_blocks":
            return sorted(self.connected_block_history)
        if op == "hold":
            held = []
            for mid in request.get("manager_ids", []):
                m = self.managers.get(mid.encode())
                if m is not None:
                    m.active = False
                    held.append(mid)
            logger.info("Holding managers %s (no new tasks)", held)
            return held
        if op == "stop_managers":
            stopped = []
            for mid in request.get("manager_ids", []):
                m = self.managers.get(mid.encode())
                if m is not None:
                    self._send_manager(m.manager_id, P.STOP)
                    self.remove_manager(m, "it was scaled in while holding tasks")
                    stopped.append(mid)
            return stopped
        if op == "shutdown":
            self.stopping = True
            return "ok"
        if op == "ping":
            return "pong"
        raise ValueError(f"unknown command {op!r}")

    # ------------------------------------------------------------------ dispatching

    def dispatch(self) -> None:
        if not self.pending:
            return
        ready = [mid for mid, m in self.managers.items()
                 if m.active and not m.draining and len(m.tasks) < m.capacity]
        if not ready:
            return
        if len(ready) > 1:
            info = {mid: {**self.managers[mid].info, "tasks": len(self.managers[mid].tasks)}
                    for mid in ready}
            ready = self.selector.sort_managers(ready, info)
        events = self.task_events
        pending = self.pending
        for mid in ready:
            if not pending:
                return
            m = self.managers[mid]
            n = min(m.capacity - len(m.tasks), len(pending), _MAX_TASKS_PER_MESSAGE)
            if n <= 0:
                continue
            batch, places = pending.take(n)
            if not self._send_manager(mid, b"".join([P.TASKS, *(r for _, r in batch)])):
                pending.put_back(batch, places)
                continue
            for k, _ in batch:
                m.tasks[k] = None
            self.in_flight += n
            m.idle_since = None
            if events is not None:
                manager_id = mid.decode(errors="replace")
                for k, _ in batch:
                    htex_id, dfk_id = P.key_ids(k)
                    events.add("ix_dispatched", dfk_id, executor_task_id=htex_id,
                               manager_id=manager_id, block_id=m.block_id)

    # ------------------------------------------------------------------ managers lost

    def remove_manager(self, m: _Manager, why: str) -> None:
        """Forget ``m``; fail the tasks it held with ManagerLost."""
        self.managers.pop(m.manager_id, None)
        self.lost.add(m.manager_id)
        if not m.tasks:
            return
        mid = m.manager_id.decode(errors="replace")
        err = _serial.serialize(ManagerLost(mid, m.hostname, why, block_id=m.block_id))
        keys = list(m.tasks)
        m.tasks.clear()
        self.in_flight -= len(keys)
        logger.error("Failing %d tasks of manager %s: %s", len(keys), mid, why, extra=_ids(m))
        self.send_client(b"".join([P.RESULTS, *(P.result_record(k, _serial.RESULT_EXECUTOR_ERROR,
                                                                err) for k in keys)]))

    def log_queue_lengths(self) -> None:
        """Metric records: tasks waiting here, and tasks held by each manager."""
        logger.log(TASK_EVENTS, "ix_pending=%d", len(self.pending),
                   extra={"metric": "ix_pending", "value": len(self.pending)})
        for m in self.managers.values():
            manager_id = m.manager_id.decode(errors="replace")
            logger.log(TASK_EVENTS, "manager_tasks=%d", len(m.tasks),
                       extra={"metric": "manager_tasks", "value": len(m.tasks),
                              "manager_id": manager_id, "block_id": m.block_id})

    def housekeeping(self, now: float) -> None:
        if logger.isEnabledFor(TASK_EVENTS):
            self.log_queue_lengths()
        for m in list(self.managers.values()):
            if now - m.last_seen > self.hb_threshold:
                logger.error("Manager %s of block %s on %s missed heartbeats for %.1f s "
                             "(heartbeat_threshold %s s): declaring it lost",
                             m.manager_id.decode(errors="replace"), m.block_id, m.hostname,
                             now - m.last_seen, self.hb_threshold, extra=_ids(m))
                self.remove_manager(m, f"no heartbeat for {now - m.last_seen:.1f} s "
                                       f"(heartbeat_threshold={self.hb_threshold} s)")
                self.event("manager_lost", block_id=m.block_id,
                           manager_id=m.manager_id.decode(errors="replace"))
            else:
                self._send_manager(m.manager_id, P.HB)
        self.tcp.drop_strangers(now)
        self._flush_backlog()

    def manager_disconnected(self, m: _Manager) -> None:
        """``m``'s result connection closed before it said BYE: its process is gone (or
        cut off), so its tasks fail now rather than after ``heartbeat_threshold``. Every
        result it sent before has been read: TCP delivers them ahead of the close."""
        logger.error("Manager %s of block %s on %s closed its connection without leaving: "
                     "declaring it lost", m.manager_id.decode(errors="replace"), m.block_id,
                     m.hostname, extra=_ids(m))
        self.remove_manager(m, "its connection to the interchange closed (the manager "
                               "process exited or was killed)")
        self.event("manager_lost", block_id=m.block_id,
                   manager_id=m.manager_id.decode(errors="replace"))

    def parent_alive(self) -> bool:
        """Whether the executor's process still exists (a launch wrapper may sit between)."""
        try:
            os.kill(self.parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    # ------------------------------------------------------------------ main loop

    def run(self) -> None:
        # The executor's ZeroMQ sockets this loop receives on (client tasks, and commands,
        # whose replies go out inside the drain) are polled by descriptor (see
        # parsl_htex._zmq), like the managers' TCP connections, so select.poll serves. It
        # reports ready descriptors in registration order: results come first (manager
        # connections are kept ahead of the client task socket), and the tasks they free
        # capacity for are sent before a large batch of new tasks from the executor is
        # parsed.
        zmq_sockets = [self.client_tasks, self.command]
        handlers: Dict[Any, Callable[[int], None]] = {}
        poller = select.poll()
        fd_of = {sock: notification_fd(sock) for sock in zmq_sockets}
        by_fd = {fd: sock for sock, fd in fd_of.items()}
        handlers[fd_of[self.client_tasks]] = self.handle_client_tasks
        handlers[fd_of[self.command]] = self.handle_command
        for what in handlers:
            poller.register(what, _POLLIN)
        self.tcp.attach(poller, handlers, last=[fd_of[self.client_tasks]])
        period = min(self.hb_period, self.hb_threshold / 2, 1.0)
        next_hk = time.monotonic() + period
        logger.info("Interchange running: ports %s, encrypted=%s", self.ports(),
                    self.cert_dir is not None)
        window = RESULT_COALESCE_WINDOW
        flush_at = math.inf
        next_event_flush = 0.0
        while not self.stopping:
            timeout = max(0.0, min(next_hk, flush_at) - time.monotonic())
            backlog = self.backlog
            if backlog:
                timeout = 0.0
            # zmq_poll counts whole milliseconds: round up so a wait is never a busy loop.
            ready: List[Tuple[Any, int]] = poller.poll(math.ceil(timeout * 1000))
            if backlog:
                polled = {what for what, _ in ready}
                ready += [(fd_of[sock], _POLLIN) for sock in backlog
                          if fd_of[sock] not in polled]
                backlog.clear()
            for what, events in ready:
                handler = handlers.get(what)
                if handler is None:  # a connection closed earlier in this pass
                    continue
                try:
                    handler(events)
                except zmq.ZMQError:
                    raise
                except Exception:
                    # A message no check anticipated must not take everyone's tasks down.
                    logger.exception("Unexpected error handling a message; dropped it")
                    if what in by_fd:  # the drain stopped early: others may be waiting
                        self.backlog.add(by_fd[what])
            self.dispatch()
            now = time.monotonic()
            if self.task_events is not None and now >= next_event_flush:
                self.task_events.flush()
                next_event_flush = now + FLUSH_PERIOD
            if self.out_count:
                # Hold results briefly while more are on their way, so one message (and one
                # wakeup of the executor) carries several of them.
                if self.in_flight <= 0 or now - self.last_result_flush >= window:
                    self.flush_results()
                    self.last_result_flush = now
                    flush_at = math.inf
                else:
                    flush_at = self.last_result_flush + window
            if now >= next_hk:
                next_hk = now + period
                self.housekeeping(now)
                if not self.parent_alive():
                    logger.error("The executor process (pid %d) is gone; exiting",
                                 self.parent_pid)
                    break
        self.shutdown()

    def shutdown(self) -> None:
        self.flush_results()
        if self.task_events is not None:
            self.task_events.flush()
            # A run shorter than one housekeeping period still gets its queue lengths.
            self.log_queue_lengths()
        for m in list(self.managers.values()):
            self._send_manager(m.manager_id, P.STOP)
        logger.info("Interchange stopping: told %d managers to stop, %d tasks were pending",
                    len(self.managers), len(self.pending))
        self.tcp.close(_STOP_LINGER)
        if self.auth is not None:
            self.auth.stop()
        self.ctx.destroy(linger=int(_STOP_LINGER * 1000))


class _PortBusy(Exception):
    """The port tried is in use on one of the addresses (another is tried)."""


def _listener(address: str, port: int) -> socket.socket:
    """A non-blocking TCP socket listening on ``address`` (an IP literal, or ``*``: every
    address of both families, or of IPv4 alone on a host without IPv6, as ZeroMQ binds
    it) at ``port``; OSError if it cannot."""
    if address == "*":
        try:
            return _listen_socket(socket.AF_INET6, "::", port)
        except OSError as e:
            if e.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                raise
        return _listen_socket(socket.AF_INET, "0.0.0.0", port)
    host = address[1:-1] if address.startswith("[") else address
    return _listen_socket(socket.AF_INET6 if ":" in host else socket.AF_INET, host, port)


def _listen_socket(family: int, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if host == "::":  # both families (not the Linux default on every system)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # As ZeroMQ does: a restarted interchange can reuse a port left in TIME_WAIT (a
        # port another socket listens on still fails with EADDRINUSE).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _Connection:
    """One accepted TCP connection on a worker port: a manager's task or result link."""

    __slots__ = ("fd", "for_tasks", "handshaking", "mid", "opened", "reader", "sock",
                 "writer")

    def __init__(self, sock: socket.socket, for_tasks: bool) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.for_tasks = for_tasks
        #: Whether its TLS handshake is still going on (never, without encryption).
        self.handshaking = isinstance(sock, ssl.SSLSocket)
        #: The manager id its HELLO gave; None before.
        self.mid: Optional[bytes] = None
        self.opened = time.monotonic()
        self.reader = _tcp.FrameReader(sock)
        self.writer = _tcp.writer_for(sock)


class _ManagerConnections:
    """The interchange's TCP connections to managers (TLS when the run is encrypted).

    Each manager opens one connection to each worker port (and completes its TLS
    handshake, driven by this loop without blocking) and starts it with HELLO and its id;
    from then on its messages are handed to the interchange with that id. A failed
    handshake (no certificate, another run's, not TLS at all) closes the connection.
    Writes never block: what a socket
    cannot take yet waits in the connection's writer, and the connection is polled for
    POLLOUT until it is sent. A peer that breaks the framing, announces an oversized
    message, or is not a registered manager's within ``heartbeat_threshold`` is
    disconnected; no other connection is affected.
    """

    def __init__(self, ix: Interchange, task_listeners: List[socket.socket],
                 result_listeners: List[socket.socket],
                 tls: Optional[ssl.SSLContext] = None) -> None:
        self.ix = ix
        #: The server side of TLS for every connection, when the run is encrypted.
        self.tls = tls
        self.listeners = [(sock, True) for sock in task_listeners] + \
            [(sock, False) for sock in result_listeners]
        self.by_fd: Dict[int, _Connection] = {}
        #: Each registered manager's task connection, which everything to it goes on.
        self.task_links: Dict[bytes, _Connection] = {}
        self.result_links: Dict[bytes, _Connection] = {}
        self.poller: Any = None
        self.handlers: Dict[Any, Callable[[int], None]] = {}
        self.last: List[int] = []

    def attach(self, poller: Any, handlers: Dict[Any, Callable[[int], None]],
               last: List[int]) -> None:
        """Have the event loop's ``poller`` watch the listeners (and later connections),
        dispatching their events through ``handlers``. The descriptors in ``last`` stay
        behind every connection in the poller's order (select.poll reports ready
        descriptors in registration order), so results are read, and the tasks they free
        capacity for sent, before a large batch from the executor is parsed."""
        self.poller = poller
        self.handlers = handlers
        self.last = last
        for sock, for_tasks in self.listeners:
            handlers[sock.fileno()] = partial(self._accept, sock, for_tasks)
            poller.register(sock.fileno(), _POLLIN)

    def _accept(self, listener: socket.socket, for_tasks: bool, _events: int) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as e:  # out of descriptors, or the peer gave up already
                logger.warning("Cannot accept a manager connection: %s", e)
                return
            _tcp.configure(sock)
            if self.tls is not None:
                # The handshake is driven by the event loop (see _handshake), so a slow or
                # hostile peer holds up no one.
                sock = self.tls.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
            conn = _Connection(sock, for_tasks)
            self.by_fd[conn.fd] = conn
            self.handlers[conn.fd] = partial(self._ready, conn)
            self.poller.register(conn.fd, _POLLIN)
            for fd in self.last:  # back behind the new connection
                self.poller.unregister(fd)
                self.poller.register(fd, _POLLIN)

    def _handshake(self, conn: _Connection) -> bool:
        """Advance ``conn``'s TLS handshake; True once it is done (it is then read at
        once: the peer's first message may have come with the handshake's last bytes)."""
        sock = conn.sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self.poller.register(conn.fd, _POLLIN)
            return False
        except ssl.SSLWantWriteError:
            self.poller.register(conn.fd, _POLLIN | _POLLOUT)
            return False
        except OSError as e:  # a wrong or missing certificate, or not TLS at all
            self.ix._warn_dropped("a connection whose TLS handshake failed (%s)", e)
            self.disconnect(conn, None)
            return False
        conn.handshaking = False
        self.poller.register(conn.fd, _POLLIN)
        return True

    def _ready(self, conn: _Connection, events: int) -> None:
        if conn.handshaking and not self._handshake(conn):
            return
        if events & _POLLOUT and not conn.writer.pending:
            events &= ~_POLLOUT
        if events & _POLLOUT:
            try:
                done = conn.writer.flush()
            except OSError as e:
                self.disconnect(conn, f"it cannot be written to ({e})")
                return
            if done:
                self.poller.register(conn.fd, _POLLIN)
            if not events & ~_POLLOUT:
                return
        ix = self.ix
        mid = conn.mid
        try:
            messages, still_open = conn.reader.read(
                _tcp.MAX_MESSAGE if mid in ix.managers else _UNREGISTERED_LIMIT)
        except _tcp.FrameTooLong as e:
            ix._warn_dropped("the connection of %r: %s", mid or "an unidentified peer", e)
            self.disconnect(conn, None)
            return
        for body in messages:
            if mid is None:
                if not self._hello(conn, body):
                    return
                mid = conn.mid
            elif conn.for_tasks:
                ix.task_port_message(mid, body)
            else:
                ix.result_port_message(mid, body)
        if not still_open:
            if conn.reader.buf:
                ix._warn_dropped("%d bytes of an incomplete message from %r, whose "
                                 "connection closed", len(conn.reader.buf),
                                 mid or "an unidentified peer")
            m = ix.managers.get(mid) if mid is not None else None
            if m is not None and self.result_links.get(m.manager_id) is conn:
                ix.manager_disconnected(m)
            self.disconnect(conn, None)
        elif not conn.for_tasks:
            ix.dispatch()

    def _hello(self, conn: _Connection, body: memoryview) -> bool:
        """Take the peer's id from its first message; False (and disconnected) if it is
        not a HELLO, or names a manager that is lost or already connected."""
        mid = body[1:].tobytes()
        links = self.task_links if conn.for_tasks else self.result_links
        if body[:1] != P.HELLO or not 0 < len(mid) <= P.MAX_ID:
            self.ix._warn_dropped("a connection whose first message %r is not a HELLO",
                                  body[:16].tobytes())
        elif mid in self.ix.lost:
            self.ix._warn_dropped("a connection from lost manager %r", mid[:32])
        elif mid in links:
            self.ix._warn_dropped("a second %s connection from manager %r",
                                  "task" if conn.for_tasks else "result", mid[:32])
        else:
            conn.mid = mid
            links[mid] = conn
            return True
        self.disconnect(conn, None)
        return False

    def send(self, mid: bytes, body: bytes) -> bool:
        """Send ``body`` to manager ``mid`` without blocking; False if it has no task
        connection (or it just broke)."""
        conn = self.task_links.get(mid)
        if conn is None:
            logger.warning("Cannot reach manager %r: it has no task connection", mid[:32])
            return False
        try:
            if conn.writer.write((_tcp.frame(body), body)):
                return True
        except OSError as e:
            self.disconnect(conn, f"sending to it failed ({e})")
            return False
        self.poller.register(conn.fd, _POLLIN | _POLLOUT)
        return True

    def disconnect(self, conn: _Connection, why: Optional[str]) -> None:
        """Close ``conn`` and forget it (logging ``why``, when given)."""
        if self.by_fd.pop(conn.fd, None) is None:
            return
        if why is not None:
            logger.warning("Closing the connection of manager %r: %s", conn.mid, why)
        self.poller.unregister(conn.fd)
        del self.handlers[conn.fd]
        if conn.mid is not None:
            links = self.task_links if conn.for_tasks else self.result_links
            if links.get(conn.mid) is conn:
                del links[conn.mid]
        conn.sock.close()

    def drop_strangers(self, now: float) -> None:
        """Close connections older than ``heartbeat_threshold`` that belong to no
        registered manager: peers that never registered (or were refused), and lost or
        departed managers, which thereby learn that they are gone."""
        managers = self.ix.managers
        deadline = now - self.ix.hb_threshold
        for conn in [c for c in self.by_fd.values()
                     if c.opened < deadline and c.mid not in managers]:
            if conn.mid is None:
                self.ix._warn_dropped("a connection that sent no HELLO within %s s",
                                      self.ix.hb_threshold)
            self.disconnect(conn, None)

    def close(self, linger: float) -> None:
        """Send what is still queued (for at most ``linger`` seconds), then close all."""
        deadline = time.monotonic() + linger
        waiting = [c for c in self.by_fd.values() if c.writer.pending]
        while waiting and time.monotonic() < deadline:
            select.select([], [c.sock for c in waiting], [], deadline - time.monotonic())
            try:
                waiting = [c for c in waiting if not c.writer.flush()]
            except OSError:
                break
        for conn in list(self.by_fd.values()):
            conn.sock.close()
        self.by_fd.clear()
        for sock, _ in self.listeners:
            sock.close()


def main() -> int:
    config = json.loads(sys.stdin.readline())
    setup_process_logging(config["logdir"], "interchange",
                          load_log_config(config.get("log_config")), bool(config.get("debug")),
                          run_id=config.get("run_id"), executor=config.get("label"))
    signal.signal(signal.SIGTERM, _on_stop_signal)
    # Ctrl-C in a terminal reaches the whole foreground process group; the executor
    # decides when the interchange stops (it also exits when the executor is gone).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            ix = Interchange(config)
        except BindFailure as e:
            # The executor is waiting for this line: it raises with the reason at once.
            logger.error("Interchange cannot start: %s", e)
            sys.stdout.write(json.dumps({"error": str(e)}) + "\n")
            sys.stdout.flush()
            return 3
        sys.stdout.write(json.dumps(ix.ports()) + "\n")
        sys.stdout.flush()
        global _running
        _running = ix
        ix.run()
    except SystemExit:
        logger.info("Interchange terminated by signal")
        return 0
    except Exception:
        logger.exception("Interchange failed")
        raise
    return 0


#: The interchange in its loop: a signal asks it to stop (its poll wakes at least once
#: a second) instead of raising inside a log call or an event flush and losing records.
_running: Optional[Interchange] = None


def _on_stop_signal(signum: int, _frame: Any) -> None:
    if _running is None:
        raise SystemExit(128 + signum)
    _running.stopping = True


if __name__ == "__main__":
    sys.exit(main())
