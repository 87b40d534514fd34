"""Monitoring radios: how workers send their events (running, running_ended, resource
samples) back to the monitoring hub in the submitting process.

A radio object is what users put in an executor's ``remote_monitoring_radio``. It has two
halves: :meth:`MonitoringRadio.start_receiver` runs in the submitting process and feeds
decoded batches to a callback; :func:`make_sender` rebuilds the sending half on a worker
from the plain-dict ``worker_config`` the receiver returns. Workers send *batches* (one
encoded list per flush, see :mod:`parsl_monitoring.batches`), so a no-op task costs a list
append, not a network send or a file.

- :class:`FilesystemRadio`: each batch is a file in ``run_dir/monitor-fs-radio/<label>``,
  written to ``tmp/`` and renamed into ``new/``; nothing is lost while the file system
  works. The default for executors whose workers share the submit host's file system.
- :class:`UDPRadio`: HMAC-signed datagrams to a port of the hub. Batches larger than a
  datagram are split into fragments and reassembled; fragments that never complete, or
  datagrams with a bad signature, are counted as lost.
- :class:`HTEXRadio`: over the HighThroughputExecutor's own connections (worker ->
  manager -> interchange -> the executor's result thread), as monitoring records beside
  the results: no extra socket, file or process. HTEX's default.
- :class:`MultiprocessingQueueRadio`: a queue in the submitting process, for senders that
  run there (the thread executor's default, as in Parsl).

The last two are defined in core (:mod:`parsl.monitoring.radio_config`), because
HighThroughputExecutor and ThreadPoolExecutor take instances of them as defaults even
without this package; :func:`start_receiver` gives them their behaviour.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import secrets
import socket
import struct
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from parsl.monitoring.radio_config import HTEXRadio, MultiprocessingQueueRadio, RadioConfig
from parsl_monitoring.batches import decode_batch

__all__ = ["FilesystemRadio", "HTEXRadio", "MonitoringRadio", "MultiprocessingQueueRadio",
           "RadioConfig", "Receiver", "Sender", "UDPRadio", "make_sender",
           "start_executor_receiver", "start_receiver"]

logger = logging.getLogger(__name__)

#: Called by a receiver with the executor label and the decoded worker messages.
BatchCallback = Callable[[str, List[List[Any]]], None]
#: Called by a receiver with a count of messages it could not deliver and why.
LossCallback = Callable[[int, str], None]
#: Called by the HTEX receiver with the executor label and a still-encoded batch.
PayloadCallback = Callable[[str, bytes], None]

_DATAGRAM_PAYLOAD = 60_000
_DIGEST = hashlib.sha256
_DIGEST_SIZE = _DIGEST().digest_size
_FRAGMENT = struct.Struct("<16sHH")
_FRAGMENT_TIMEOUT = 60.0


class Receiver(Protocol):
    """The submit-side half of a radio while a run is going."""

    worker_config: Dict[str, Any]

    def stop(self) -> None:
        """Deliver everything received so far, then release sockets and threads."""


class Sender(Protocol):
    """The worker-side half of a radio."""

    def send(self, payload: bytes) -> None:
        """Send one batch (see :mod:`parsl_monitoring.batches`); must not raise for
        transient trouble."""


class MonitoringRadio(RadioConfig):
    """Base of the radios defined here (registry kind ``monitoring_radio``); use
    :func:`start_receiver`, which also knows core's :class:`HTEXRadio` and
    :class:`MultiprocessingQueueRadio`."""

    def start_receiver(self, label: str, run_dir: str, on_batch: BatchCallback,
                       on_loss: LossCallback) -> Receiver:
        raise NotImplementedError



def _decode(payload: bytes, label: str, on_batch: BatchCallback, on_loss: LossCallback,
            where: str) -> None:
    try:
        messages = decode_batch(payload)
    except ValueError as e:
        logger.error("monitoring: unreadable batch from %s for executor %s: %s", where, label, e)
        on_loss(1, f"unreadable batch ({where})")
        return
    on_batch(label, messages)


# ---------------------------------------------------------------------- filesystem


class FilesystemRadio(MonitoringRadio):
    """Batches as files under the run directory (workers must share that file system)."""

    def __init__(self, poll_period: float = 0.2) -> None:
        if not poll_period > 0:
            raise ValueError(f"FilesystemRadio: poll_period must be > 0 seconds, "
                             f"got {poll_period!r}")
        self.poll_period = poll_period

    def start_receiver(self, label: str, run_dir: str, on_batch: BatchCallback,
                       on_loss: LossCallback) -> Receiver:
        return _FilesystemReceiver(os.path.join(os.path.abspath(run_dir), "monitor-fs-radio",
                                                label), label, self.poll_period, on_batch,
                                   on_loss)


class _FilesystemReceiver:
    def __init__(self, folder: str, label: str, poll_period: float, on_batch: BatchCallback,
                 on_loss: LossCallback) -> None:
        self.folder = folder
        self.new = os.path.join(folder, "new")
        os.makedirs(os.path.join(folder, "tmp"), exist_ok=True)
        os.makedirs(self.new, exist_ok=True)
        self.label = label
        self.poll_period = poll_period
        self.on_batch = on_batch
        self.on_loss = on_loss
        self.worker_config: Dict[str, Any] = {"kind": "filesystem", "folder": folder}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"monitoring-fs-radio-{label}")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_period):
            self.collect()
        self.collect()

    def collect(self) -> None:
        try:
            names = sorted(os.listdir(self.new))
        except OSError as e:
            logger.error("monitoring: cannot list %s: %s", self.new, e)
            return
        for name in names:
            path = os.path.join(self.new, name)
            try:
                with open(path, "rb") as f:
                    payload = f.read()
                os.unlink(path)
            except OSError as e:
                logger.error("monitoring: cannot read batch %s: %s", path, e)
                self.on_loss(1, "unreadable batch file")
                continue
            _decode(payload, self.label, self.on_batch, self.on_loss, path)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


class _FilesystemSender:
    def __init__(self, folder: str) -> None:
        self.tmp = os.path.join(folder, "tmp")
        self.new = os.path.join(folder, "new")
        self.prefix = f"{uuid.uuid4().hex[:8]}-{os.getpid()}"
        self.count = 0

    def send(self, payload: bytes) -> None:
        self.count += 1
        name = f"{time.time_ns():020d}-{self.prefix}-{self.count:08d}.batch"
        tmp_path = os.path.join(self.tmp, name)
        with open(tmp_path, "wb") as f:
            f.write(payload)
        os.rename(tmp_path, os.path.join(self.new, name))


# ---------------------------------------------------------------------- UDP


class UDPRadio(MonitoringRadio):
    """HMAC-signed UDP datagrams to the hub (Parsl's ``UDPRadio`` parameters).

    ``address`` is where workers reach the hub (default: the monitoring hub's
    ``hub_address``, else 127.0.0.1); ``port`` None picks a free one. Every datagram is
    signed with a per-run random key that only the run's workers receive.
    """

    def __init__(self, *, port: Optional[int] = None, atexit_timeout: float = 3,
                 address: Optional[str] = None, debug: bool = False,
                 hmac_digest: str = "sha256") -> None:
        if port is not None and not 0 <= port <= 65535:
            raise ValueError(f"UDPRadio: port must be within 0..65535 or None, got {port!r}")
        if hmac_digest not in hashlib.algorithms_available:
            raise ValueError(f"UDPRadio: hmac_digest {hmac_digest!r} is not a hashlib "
                             "algorithm of this Python")
        self.port = port
        self.atexit_timeout = atexit_timeout
        self.address = address
        self.debug = debug
        self.hmac_digest = hmac_digest

    def start_receiver(self, label: str, run_dir: str, on_batch: BatchCallback,
                       on_loss: LossCallback) -> Receiver:
        if self.address is not None:
            return _UDPReceiver(self.address, self.address, self.port or 0, label, on_batch,
                                on_loss)
        # No address given: listen on every interface and tell workers this host's name,
        # as remote workers cannot reach a loopback address.
        return _UDPReceiver("0.0.0.0", socket.getfqdn(), self.port or 0, label, on_batch,
                            on_loss)

    def __repr__(self) -> str:
        return f"UDPRadio(address={self.address!r}, port={self.port!r})"


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, _DIGEST).digest() + body


class _UDPReceiver:
    def __init__(self, address: str, public_address: str, port: int, label: str,
                 on_batch: BatchCallback, on_loss: LossCallback) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2**20)
        except OSError as e:
            logger.debug("could not enlarge the UDP receive buffer: %s", e)
        self.sock.bind((address, port))
        self.sock.settimeout(0.2)
        self.key = secrets.token_bytes(32)
        self.label = label
        self.on_batch = on_batch
        self.on_loss = on_loss
        bound = self.sock.getsockname()
        self.worker_config: Dict[str, Any] = {"kind": "udp", "address": public_address,
                                              "port": bound[1], "key": self.key.hex()}
        self._fragments: Dict[bytes, Tuple[float, Dict[int, bytes], int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"monitoring-udp-radio-{label}")
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                if self._stop.is_set():
                    break
                self._expire(time.monotonic())
                continue
            except OSError as e:
                logger.error("monitoring: UDP receiver of %s failed: %s", self.label, e)
                break
            self._handle(data)
        self._expire(float("inf"))

    def _handle(self, data: bytes) -> None:
        digest, body = data[:_DIGEST_SIZE], data[_DIGEST_SIZE:]
        if not hmac.compare_digest(digest, hmac.new(self.key, body, _DIGEST).digest()):
            logger.warning("monitoring: dropped a UDP datagram with a bad signature "
                           "(%d bytes)", len(data))
            self.on_loss(1, "UDP datagram with a bad signature")
            return
        kind, rest = body[:1], body[1:]
        if kind == b"W":
            _decode(rest, self.label, self.on_batch, self.on_loss, "UDP")
            return
        message_id, index, count = _FRAGMENT.unpack_from(rest)
        chunk = rest[_FRAGMENT.size:]
        first_seen, parts, _ = self._fragments.get(message_id, (time.monotonic(), {}, count))
        parts[index] = chunk
        if len(parts) == count:
            self._fragments.pop(message_id, None)
            _decode(b"".join(parts[i] for i in range(count)), self.label, self.on_batch,
                    self.on_loss, "UDP fragments")
        else:
            self._fragments[message_id] = (first_seen, parts, count)

    def _expire(self, now: float) -> None:
        for message_id, (first_seen, parts, count) in list(self._fragments.items()):
            if now - first_seen > _FRAGMENT_TIMEOUT:
                del self._fragments[message_id]
                logger.error("monitoring: a UDP batch from executor %s arrived incomplete "
                             "(%d of %d fragments); it is lost", self.label, len(parts), count)
                self.on_loss(1, "incomplete UDP batch")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.sock.close()


class _UDPSender:
    def __init__(self, address: str, port: int, key: str) -> None:
        family, _, _, _, target = socket.getaddrinfo(address, port, type=socket.SOCK_DGRAM)[0]
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.target = target
        self.key = bytes.fromhex(key)

    def send(self, payload: bytes) -> None:
        if len(payload) <= _DATAGRAM_PAYLOAD:
            self.sock.sendto(_sign(self.key, b"W" + payload), self.target)
            return
        message_id = uuid.uuid4().bytes
        chunks = [payload[i:i + _DATAGRAM_PAYLOAD]
                  for i in range(0, len(payload), _DATAGRAM_PAYLOAD)]
        for index, chunk in enumerate(chunks):
            body = b"F" + _FRAGMENT.pack(message_id, index, len(chunks)) + chunk
            self.sock.sendto(_sign(self.key, body), self.target)


def start_executor_receiver(executor: Any, on_payload: PayloadCallback) -> Receiver:
    """Receive an :class:`HTEXRadio`'s batches through ``executor`` (it must have
    ``monitoring_message_handler``, as HighThroughputExecutor has).

    Each batch is a monitoring record on the worker's result pipe; the manager and the
    interchange pass it on with the results (the interchange checks it), and the
    executor's result thread hands it to the handler registered here. Nothing else is
    opened: no socket, no file, no process. ``on_payload`` gets each batch still encoded
    (see :mod:`parsl_monitoring.batches`): it runs on the executor's result thread, so decoding is
    left to the consumer.
    """
    if not hasattr(executor, "monitoring_message_handler"):
        raise ValueError(f"HTEXRadio needs a HighThroughputExecutor; executor "
                         f"{getattr(executor, 'label', executor)!r} of type "
                         f"{type(executor).__name__} has no monitoring route")
    return _ExecutorReceiver(executor, on_payload)


def start_receiver(radio: RadioConfig, label: str, run_dir: str, on_batch: BatchCallback,
                   on_loss: LossCallback) -> Receiver:
    """Start the submit-side half of ``radio`` for the executor ``label``.

    The two radios that core and parsl-htex use as defaults are plain configuration
    classes of core (:mod:`parsl.monitoring.radio_config`); their behaviour is here.
    An :class:`HTEXRadio` outside an HTEX executor falls back to the filesystem radio.
    """
    if isinstance(radio, MultiprocessingQueueRadio):
        return _QueueReceiver(label, on_batch, on_loss)
    if isinstance(radio, HTEXRadio):
        return FilesystemRadio().start_receiver(label, run_dir, on_batch, on_loss)
    if isinstance(radio, MonitoringRadio):
        return radio.start_receiver(label, run_dir, on_batch, on_loss)
    raise ValueError(f"not a monitoring radio: {radio!r} ({type(radio).__name__}); "
                     "expected UDPRadio, FilesystemRadio, HTEXRadio or "
                     "MultiprocessingQueueRadio")


class _ExecutorReceiver:
    """Decodes the monitoring records an HTEX executor's result thread hands over."""

    def __init__(self, executor: Any, on_payload: PayloadCallback) -> None:
        self.executor = executor
        self.label = str(executor.label)
        self.on_payload = on_payload
        self.worker_config: Dict[str, Any] = {"kind": "htex"}
        executor.monitoring_message_handler = self._handle

    def _handle(self, payload: bytes) -> None:
        self.on_payload(self.label, payload)

    def stop(self) -> None:
        # Records arrive on the executor's thread and are delivered as they come: after
        # this, the executor logs (and drops) any that are still on their way.
        if self.executor.monitoring_message_handler == self._handle:
            self.executor.monitoring_message_handler = None


class _ResultChannelSender:
    """Sends through the HTEX worker's result pipe once the worker attaches it (see
    ``parsl_htex.worker``); until then a send fails and the batch is kept for later."""

    def __init__(self) -> None:
        self.channel: Optional[Callable[[bytes], None]] = None

    def send(self, payload: bytes) -> None:
        if self.channel is None:
            raise RuntimeError("the HTEX worker has not attached its result channel yet")
        self.channel(payload)


# ---------------------------------------------------------------------- in process


#: Queues of the in-process receivers that are running, by id.
_IN_PROCESS: Dict[str, queue.SimpleQueue[Optional[bytes]]] = {}


class _QueueReceiver:
    def __init__(self, label: str, on_batch: BatchCallback, on_loss: LossCallback) -> None:
        self.label = label
        self.on_batch = on_batch
        self.on_loss = on_loss
        self.queue: queue.SimpleQueue[Optional[bytes]] = queue.SimpleQueue()
        self.id = uuid.uuid4().hex
        _IN_PROCESS[self.id] = self.queue
        self.worker_config: Dict[str, Any] = {"kind": "in_process", "id": self.id}
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"monitoring-queue-radio-{label}")
        self._thread.start()

    def _loop(self) -> None:
        while True:
            payload = self.queue.get()
            if payload is None:
                return
            _decode(payload, self.label, self.on_batch, self.on_loss, "in-process queue")

    def stop(self) -> None:
        """Deliver every batch sent before this call, then end the thread."""
        _IN_PROCESS.pop(self.id, None)
        self.queue.put(None)
        self._thread.join(30)
        if self._thread.is_alive():
            logger.error("monitoring: the in-process radio of %s did not finish delivering "
                         "within 30 s", self.label)


class _QueueSender:
    def __init__(self, receiver_id: str) -> None:
        found = _IN_PROCESS.get(receiver_id)
        if found is None:
            raise ValueError(f"no in-process monitoring radio {receiver_id!r} runs in this "
                             "process (MultiprocessingQueueRadio senders must run in the "
                             "submitting process, while the run is going)")
        self.queue = found

    def send(self, payload: bytes) -> None:
        self.queue.put(payload)


def make_sender(config: Dict[str, Any]) -> Sender:
    """The worker-side sender for a receiver's ``worker_config``."""
    kind = config.get("kind")
    if kind == "filesystem":
        return _FilesystemSender(config["folder"])
    if kind == "udp":
        return _UDPSender(config["address"], int(config["port"]), config["key"])
    if kind == "htex":
        return _ResultChannelSender()
    if kind == "in_process":
        return _QueueSender(str(config["id"]))
    raise ValueError(f"monitoring radio config kind must be 'filesystem', 'udp', 'htex' or "
                     f"'in_process', got {kind!r}")
