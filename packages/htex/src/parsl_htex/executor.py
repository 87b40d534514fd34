"""HighThroughputExecutor: the submit side of HTEX.

The executor object lives in the user's process. ``start()`` generates the run's keys
(``encrypted=True``: CurveZMQ for its own sockets, TLS certificates for the managers'),
starts the interchange process and connects to it; blocks of
managers are launched by the provider (through :class:`BlockProviderExecutor`) and
connect to the interchange themselves.

Hot path: ``submit`` serializes the task, registers its future and puts it on a queue; a
sender thread drains the queue and ships everything queued so far as one multipart
message, so bursts of submissions travel in batches without any delay being added to a
lone task. A receiver thread takes result batches, completes futures, and watches that
the interchange process is alive: if it dies, every outstanding future fails with
:class:`~parsl_htex.errors.InterchangeLost` and later submissions raise.
"""
from __future__ import annotations

import base64
import itertools
import json
import logging
import math
import os
import pickle
import queue
import select
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

import zmq

from parsl._validation import validate_init
from parsl.data_provider.staging import Staging
from parsl.dataflow.leanfuture import LeanFuture
from parsl.errors import BadParameter, copy_exception
from parsl.executors.base import check_label, fail_futures, submitting_task
from parsl.executors.errors import ExecutorError, InvalidResourceSpecification
from parsl.executors.status_handling import BlockProviderExecutor, OutstandingCount
from parsl.jobs.states import JobState, JobStatus
from parsl.monitoring.radio_config import HTEXRadio, RadioConfig
from parsl.providers.base import ExecutionProvider
from parsl.serialize.errors import SerializationError
from parsl_htex import _protocol as P
from parsl_htex import _security, _serial
from parsl_htex.errors import CommandTimeout, InterchangeLost, ManagerLost
from parsl_htex.manager_selector import ManagerSelector, RandomManagerSelector

if TYPE_CHECKING:
    from parsl_htex.command_client import CommandClient

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_LAUNCH_CMD", "HighThroughputExecutor"]

DEFAULT_LAUNCH_CMD = (
    "{process_worker_pool} {debug} --max_workers_per_node={max_workers_per_node} "
    "-p {prefetch_capacity} -c {cores_per_worker} -m {mem_per_worker} --poll {poll_period} "
    "--task_port={task_port} --result_port={result_port} --cert_dir {cert_dir} "
    "--logdir={logdir} --block_id={block_id} --hb_period={heartbeat_period} "
    "--logconf={logconf} "
    "{address_probe_timeout_string} --hb_threshold={heartbeat_threshold} "
    "--drain_period={drain_period} --cpu-affinity {cpu_affinity} {enable_mpi_mode} "
    "--mpi-launcher={mpi_launcher} --available-accelerators {accelerators} -a {addresses}")

_CPU_AFFINITY = ("none", "block", "alternating", "block-reverse")
_BATCH_LIMIT = 1024
_BATCH_BYTES = 16 * 2**20
_INTERCHANGE_START_TIMEOUT = 60.0
_COMMAND_TIMEOUT = 10.0
_Outgoing = Union[Tuple[bytes, bytes], Tuple[bytes, bytes, float]]
#: Ends of a block that, when none of its managers ever registered, mean its workers
#: never started; such a block is reported MISSING as Parsl does (see ``status``).
_ENDED_UNREGISTERED = frozenset({JobState.COMPLETED, JobState.CANCELLED, JobState.FAILED})
_LIVENESS_CHECK = 0.2
_LIVENESS_CHECK_MS = int(_LIVENESS_CHECK * 1000)
_SHUTDOWN_GRACE = 10.0
#: Longest time between two liveness pings of the interchange.
_PING_PERIOD_MAX = 5.0
#: Checking ZMQ_EVENTS after each result batch ends the drain without the zmq.Again
#: exception a recv on an empty socket raises (the check costs a third as much).
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_ALLOWED_SPEC_KEYS = frozenset({"priority"})
#: Bounds (seconds) on waiting for a lost manager's block to reach a terminal state.
_LOST_BLOCK_WAIT_MIN = 2.0
_LOST_BLOCK_WAIT_MAX = 10.0
_LOST_BLOCK_POLL = 0.5


def _address_preference(address: str) -> Tuple[bool, bool, str]:
    """Sort key for the addresses workers probe: loopback first (a block on this host
    connects without leaving it), then IPv4, then IPv6."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (True, True, address)
    return (not ip.is_loopback, ip.version == 6, address)


class _Pinger:
    """Liveness of the interchange, measured by ping round trips on the receiver thread.

    A ping is sent every ``timeout / 4`` seconds (at most every 5 s) while none is
    unanswered; the interchange counts as unresponsive once a ping has waited ``timeout``
    seconds. Replies are read without blocking, so this costs the receiver nothing while
    results flow.
    """

    def __init__(self, sock: zmq.Socket[Any], timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.period = min(_PING_PERIOD_MAX, timeout / 4)
        self.sent_at: Optional[float] = None
        self.next_ping = time.monotonic()

    def check(self, now: float) -> bool:
        """Send or collect pings; return False once the interchange is unresponsive."""
        while self.sock.poll(0):
            self.sock.recv_multipart()
            self.sent_at = None
        if self.sent_at is None:
            if now >= self.next_ping:
                self.sock.send_multipart([b"ping", b'{"op": "ping"}'])
                self.sent_at = now
                self.next_ping = now + self.period
            return True
        return now - self.sent_at < self.timeout


def _quote(value: Any) -> str:
    return shlex.quote(str(value))


def _default_provider() -> ExecutionProvider:
    from parsl.providers.local.local import LocalProvider

    return LocalProvider(init_blocks=1, max_blocks=1)


class HighThroughputExecutor(BlockProviderExecutor):
    """Run tasks on pilot-job worker pools connected through an interchange.

    Parameters keep the meaning they have in Parsl; see the package README for the full
    list. The ones most often changed: ``max_workers_per_node`` and ``cores_per_worker``
    (workers per node), ``provider`` (where blocks run), ``address`` (how workers reach
    this host: a comma-separated list they probe in order; default every address of this
    host), ``prefetch_capacity`` (tasks queued on a manager beyond its idle workers),
    ``heartbeat_threshold`` (seconds of silence before a manager is declared lost) and
    ``encrypted`` (every connection authenticated both ways and encrypted with keys made
    for the run, default on: CurveZMQ to the interchange, TLS from the managers).

    ``interchange_liveness_timeout`` (not in Parsl; default 120 s): the executor asks the
    interchange for a reply every few seconds; an interchange that is alive but does not
    answer for this long (stopped, or stuck) is killed and every outstanding task fails
    with :class:`~parsl_htex.errors.InterchangeLost`. One that answers again before then
    carries on as if nothing happened.
    """

    @validate_init
    def __init__(self,
                 label: str = "HighThroughputExecutor",
                 provider: Optional[ExecutionProvider] = None,
                 launch_cmd: Optional[str] = None,
                 interchange_launch_cmd: Optional[Sequence[str]] = None,
                 address: Optional[str] = None,
                 loopback_address: str = "127.0.0.1",
                 worker_port: Optional[int] = None,
                 worker_port_range: Optional[Tuple[int, int]] = (54000, 55000),
                 interchange_port_range: Optional[Tuple[int, int]] = (55000, 56000),
                 storage_access: Optional[List[Staging]] = None,
                 working_dir: Optional[str] = None,
                 worker_debug: bool = False,
                 cores_per_worker: Union[int, float] = 1.0,
                 mem_per_worker: Optional[Union[int, float]] = None,
                 max_workers_per_node: Optional[Union[int, float]] = None,
                 cpu_affinity: str = "none",
                 available_accelerators: Union[int, Sequence[str]] = (),
                 prefetch_capacity: int = 0,
                 heartbeat_threshold: Union[int, float] = 120,
                 heartbeat_period: Union[int, float] = 30,
                 drain_period: Optional[Union[int, float]] = None,
                 poll_period: int = 10,
                 address_probe_timeout: Optional[Union[int, float]] = None,
                 worker_logdir_root: Optional[str] = None,
                 manager_selector: ManagerSelector = RandomManagerSelector(),  # noqa: B008
                 block_error_handler: Union[bool, Callable[..., None]] = True,
                 encrypted: bool = True,
                 remote_monitoring_radio: Optional[RadioConfig] = None,
                 worker_ports: Optional[Tuple[int, int]] = None,
                 interchange_liveness_timeout: Union[int, float] = 120) -> None:
        owner = type(self).__name__
        if provider is None:
            provider = _default_provider()
        super().__init__(provider=provider, block_error_handler=block_error_handler)

        def bad(param: str, value: Any, expected: str) -> BadParameter:
            return BadParameter(owner, param, value, expected)

        check_label(owner, label)

        for name, value in (("heartbeat_threshold", heartbeat_threshold),
                            ("heartbeat_period", heartbeat_period),
                            ("interchange_liveness_timeout", interchange_liveness_timeout),
                            ("cores_per_worker", cores_per_worker)):
            if value <= 0:
                raise bad(name, value, "a number > 0")
        if heartbeat_period > heartbeat_threshold:
            raise bad("heartbeat_period", heartbeat_period,
                      f"a number <= heartbeat_threshold ({heartbeat_threshold})")
        if mem_per_worker is not None and mem_per_worker < 0:
            raise bad("mem_per_worker", mem_per_worker, "a number >= 0 (GB) or None")
        if max_workers_per_node is not None and max_workers_per_node < 1:
            raise bad("max_workers_per_node", max_workers_per_node, "a number >= 1 or None")
        if prefetch_capacity < 0:
            raise bad("prefetch_capacity", prefetch_capacity, "an int >= 0")
        if poll_period < 1:
            raise bad("poll_period", poll_period, "an int >= 1 (milliseconds)")
        if drain_period is not None and drain_period <= 0:
            raise bad("drain_period", drain_period, "a number > 0 (seconds) or None")
        if address_probe_timeout is not None and address_probe_timeout <= 0:
            raise bad("address_probe_timeout", address_probe_timeout, "a number > 0 or None")
        if cpu_affinity.lower().startswith("list:"):
            from parsl_htex._affinity import parse_cpu_list

            try:
                parse_cpu_list(cpu_affinity)
            except ValueError as e:
                raise bad("cpu_affinity", cpu_affinity,
                          f"'list:' and each worker's CPUs, e.g. 'list:0,1:2-3' ({e})") from None
        elif cpu_affinity.lower() not in _CPU_AFFINITY:
            raise bad("cpu_affinity", cpu_affinity,
                      "one of 'none', 'block', 'alternating', 'block-reverse' or 'list:...'")
        if worker_port_range is None:
            worker_port_range = (54000, 55000)
        if interchange_port_range is None:
            interchange_port_range = (55000, 56000)
        for name, rng in (("worker_port_range", worker_port_range),
                          ("interchange_port_range", interchange_port_range)):
            if not 0 < rng[0] < rng[1] <= 65535:
                raise bad(name, rng, "a (low, high) pair with 0 < low < high <= 65535")
        if worker_ports is not None and (len(set(worker_ports)) != 2
                                         or not all(0 < p <= 65535 for p in worker_ports)):
            raise bad("worker_ports", worker_ports,
                      "a (task_port, result_port) pair of two different ports")
        if worker_port is not None:
            if worker_ports is not None:
                raise bad("worker_port", worker_port,
                          f"None when worker_ports ({worker_ports}) is given")
            if not 0 < worker_port < 65535:
                raise bad("worker_port", worker_port, "a port number below 65535")
        if isinstance(available_accelerators, int):
            if available_accelerators < 0:
                raise bad("available_accelerators", available_accelerators,
                          "an int >= 0 or a list of device ids")
            accelerators = [str(i) for i in range(available_accelerators)]
        else:
            accelerators = [str(a) for a in available_accelerators]

        self.label = label
        self.launch_cmd = launch_cmd
        self.interchange_launch_cmd = (list(interchange_launch_cmd) if interchange_launch_cmd
                                       else [sys.executable, "-m", "parsl_htex.interchange"])
        self.address = address
        self.loopback_address = loopback_address
        self.worker_port = worker_port
        self.worker_ports = worker_ports
        self.worker_port_range = worker_port_range
        self.interchange_port_range = interchange_port_range
        self.storage_access = storage_access
        self.working_dir = working_dir
        self.worker_debug = worker_debug
        self.cores_per_worker = cores_per_worker
        self.mem_per_worker = mem_per_worker
        self.max_workers_per_node = (float("inf") if max_workers_per_node is None
                                     else max_workers_per_node)
        self.cpu_affinity = cpu_affinity
        self.available_accelerators = accelerators
        self.prefetch_capacity = prefetch_capacity
        self.heartbeat_threshold = heartbeat_threshold
        self.heartbeat_period = heartbeat_period
        self.drain_period = drain_period
        self.poll_period = poll_period
        self.address_probe_timeout = address_probe_timeout
        self.worker_logdir_root = worker_logdir_root
        self.manager_selector = manager_selector
        self.encrypted = encrypted
        #: MPI mode is MPIExecutor's (current Parsl has no enable_mpi_mode parameter).
        self.enable_mpi_mode = False
        self.mpi_launcher = "mpiexec"
        #: How workers send monitoring events (default ``HTEXRadio()``: over this
        #: executor's own connections, as in Parsl). Only read by a monitoring plugin.
        self.remote_monitoring_radio: RadioConfig = \
            remote_monitoring_radio if remote_monitoring_radio is not None else HTEXRadio()
        #: Set by a monitoring plugin before ``start()``: an opaque token that every
        #: worker passes to :func:`parsl_htex.worker.load_task_observer`.
        self.worker_task_observer: Optional[str] = None
        #: Set by a monitoring plugin: called on the result thread with the payload of
        #: each monitoring record workers send over the executor's own connections.
        self.monitoring_message_handler: Optional[Callable[[bytes], None]] = None
        #: With monitoring over the executor's connections: the loopback port through
        #: which the interchange's monitoring records reach this process (Parsl's name).
        self.hub_zmq_port: Optional[int] = None
        self.interchange_liveness_timeout = interchange_liveness_timeout

        self.cert_dir: Optional[str] = None
        self.interchange_proc: Optional[subprocess.Popen[bytes]] = None
        self.logconf_path: Optional[str] = None
        self.worker_task_port: Optional[int] = None
        self.worker_result_port: Optional[int] = None
        self.all_addresses: str = ""
        self._loopback_ip = loopback_address
        self.block_errors: Dict[str, str] = {}
        #: Blocks at least one of whose managers registered with the interchange.
        self._registered_blocks: Set[str] = set()
        self._ctx: Optional[zmq.Context[Any]] = None
        self._task_sock: Optional[zmq.Socket[Any]] = None
        self._result_sock: Optional[zmq.Socket[Any]] = None
        self._command_sock: Optional[zmq.Socket[Any]] = None
        #: The receiver thread's own connection to the command port, for liveness pings.
        self._ping_sock: Optional[zmq.Socket[Any]] = None
        self._command_lock = threading.Lock()
        self._command_ids = itertools.count()
        self._task_ids = itertools.count(1)  # as in Parsl, HTEX task ids start at 1
        #: (header, payload), or (header, payload, priority) for a prioritized task.
        self._outgoing: queue.SimpleQueue[Optional[_Outgoing]] = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._stop = threading.Event()
        self._started = False
        self._shut_down = False

    # ------------------------------------------------------------------ start

    @property
    def logdir(self) -> str:
        return os.path.join(self.run_dir, self.label)

    @property
    def worker_logdir(self) -> str:
        if self.worker_logdir_root is not None:
            return os.path.join(self.worker_logdir_root, self.label)
        return self.logdir

    def start(self) -> None:
        """Generate keys, start the interchange and the sender/receiver threads."""
        if self._started:
            raise ExecutorError(self, "start() was called twice")
        self._started = True
        os.makedirs(self.logdir, exist_ok=True)
        if self.encrypted:
            self.cert_dir = _security.generate_keys(os.path.join(self.logdir, "certificates"))
        self.logconf_path = self._write_log_config()
        loopback = self._resolve("loopback_address", self.loopback_address)[0]
        if self.address is None:
            from parsl.addresses import get_all_addresses

            addrs = sorted(get_all_addresses(), key=_address_preference)
            self.all_addresses = ",".join(addrs) or loopback
            bind = ["*"]
        else:
            bind = []
            for name in self.address.split(","):
                bind.extend(ip for ip in self._resolve("address", name) if ip not in bind)
            self.all_addresses = ",".join(bind)
        self._loopback_ip = loopback
        ports = self._start_interchange(loopback, bind)
        self.worker_task_port = ports["worker_task"]
        self.worker_result_port = ports["worker_result"]
        if self.monitoring_message_handler is not None:
            self.hub_zmq_port = ports["client_results"]
        self._connect(ports)
        for name, target in (("sender", self._sender), ("receiver", self._receiver)):
            t = threading.Thread(target=target, name=f"htex-{self.label}-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        logger.info("HighThroughputExecutor %s started: interchange pid %s, worker ports "
                    "%s/%s, addresses %s, encrypted=%s", self.label,
                    self.interchange_proc.pid if self.interchange_proc else None,
                    self.worker_task_port, self.worker_result_port, self.all_addresses,
                    self.encrypted)

    def _fixed_worker_ports(self) -> Optional[List[int]]:
        """The (task, result) ports workers connect to, if the config fixes them.

        Parsl's ``worker_port`` names one port; this executor's managers use two
        connections, so the result port is the next one (open both in a firewall).
        """
        if self.worker_port:
            return [self.worker_port, self.worker_port + 1]
        return list(self.worker_ports) if self.worker_ports else None

    def _resolve(self, param: str, value: str) -> List[str]:
        """IPs for ``value`` of parameter ``param``; ExecutorError naming both if none."""
        from parsl_htex._net import ResolveError, resolve

        try:
            return resolve(value)
        except ResolveError as e:
            raise ExecutorError(self, f"{param}={value!r} cannot be used: {e.strerror}; "
                                "expected an IPv4 or IPv6 address, a network interface "
                                "or a host name of this host") from None

    def _write_log_config(self) -> Optional[str]:
        """Pickle the run's LogConfig where the interchange and managers can load it."""
        if self.log_config is None:
            return None
        folder = os.path.join(self.logdir, "log_config")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, "log_config.pkl")
        with open(path, "wb") as f:
            pickle.dump(self.log_config, f)
        return path

    def _start_interchange(self, loopback: str, bind: List[str]) -> Dict[str, int]:
        config = {
            "label": self.label, "logdir": self.logdir, "cert_dir": self.cert_dir,
            "loopback_address": loopback, "worker_bind_addresses": bind,
            "interchange_port_range": list(self.interchange_port_range),
            "worker_ports": self._fixed_worker_ports(),
            "worker_ports_param": "worker_port" if self.worker_port else "worker_ports",
            "worker_port_range": list(self.worker_port_range),
            "heartbeat_threshold": self.heartbeat_threshold,
            "heartbeat_period": self.heartbeat_period,
            "debug": self.worker_debug, "parent_pid": os.getpid(), "run_id": self.run_id,
            "log_config": self.logconf_path,
            "manager_selector": base64.b64encode(pickle.dumps(self.manager_selector)).decode(),
        }
        stderr_path = os.path.join(self.logdir, "interchange.stderr")
        with open(stderr_path, "ab") as err:
            proc = subprocess.Popen(self.interchange_launch_cmd, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, close_fds=True)
        self.interchange_proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(config).encode() + b"\n")
        proc.stdin.close()
        deadline = time.monotonic() + _INTERCHANGE_START_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or proc.poll() is not None:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                cmd = " ".join(self.interchange_launch_cmd)
                raise ExecutorError(self, f"the interchange ({cmd}) did not start within "
                                    f"{_INTERCHANGE_START_TIMEOUT} s "
                                    f"(exit code {proc.returncode}); see {stderr_path} and "
                                    f"{os.path.join(self.logdir, 'interchange.log')}")
            ready, _, _ = select.select([proc.stdout], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    proc.wait(timeout=5)
                    continue
                line += chunk
        proc.stdout.close()
        ports: Dict[str, Any] = json.loads(line)
        if "error" in ports:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise ExecutorError(self, f"the interchange cannot start: {ports['error']}")
        return ports

    def _connect(self, ports: Dict[str, int]) -> None:
        from parsl_htex._net import tcp_url

        ctx = zmq.Context()
        self._ctx = ctx
        host = self._loopback_ip

        def client(kind: int, port: int) -> zmq.Socket[Any]:
            sock = ctx.socket(kind)
            sock.linger = 0
            sock.sndhwm = 0
            sock.rcvhwm = 0
            sock.ipv6 = True
            _security.make_client(sock, self.cert_dir)
            sock.connect(tcp_url(host, port))
            return sock

        self._task_sock = client(zmq.PUSH, ports["client_tasks"])
        self._result_sock = client(zmq.PULL, ports["client_results"])
        self._command_sock = client(zmq.DEALER, ports["command"])
        self._ping_sock = client(zmq.DEALER, ports["command"])

    # ------------------------------------------------------------------ submit

    def submit(self, func: Callable[..., Any], resource_specification: Dict[str, Any],
               *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``func(*args, **kwargs)`` for a worker; return its future at once."""
        if self.bad_state_is_set:
            # A copy each time: raising the recorded exception itself would add this
            # frame to its traceback at every refused submit (every retry of a bulk
            # failure), and the DFK formats that traceback for each.
            reason = self.executor_exception
            raise copy_exception(reason) if reason is not None else \
                ExecutorError(self, "the executor is in a bad state")
        if self._shut_down or not self._started:
            raise ExecutorError(self, "submit() called on an executor that is not running")
        priority = None
        if resource_specification or self.enable_mpi_mode:
            self.validate_resource_spec(resource_specification)
            priority = resource_specification.get("priority")
        ctx = submitting_task.get()
        dfk_id = ctx.task_id if ctx is not None else None
        payload = _serial.pack_apply_message(func, args, kwargs, resource_specification, task=ctx)
        if len(payload) > P.MAX_PAYLOAD:
            raise SerializationError("the task message", "tuple", ctx,
                                     f"it is {len(payload)} bytes serialized, more than the "
                                     f"{P.MAX_PAYLOAD} bytes a HighThroughputExecutor message "
                                     "can carry")
        htex_id = next(self._task_ids)
        fut: Future[Any] = LeanFuture()
        fut.parsl_executor_task_id = htex_id  # type: ignore[attr-defined]
        self._tasks[htex_id] = fut
        header = P.task_header(htex_id, dfk_id, len(payload))
        self._outgoing.put((header, payload) if priority is None
                           else (header, payload, float(priority)))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("Submitted task %s bytes=%d", dfk_id, len(payload),
                         extra={"task_id": dfk_id, "executor_task_id": htex_id,
                                "executor": self.label})
        return fut

    def validate_resource_spec(self, spec: Dict[str, Any]) -> None:
        """Raise InvalidResourceSpecification for keys this executor cannot honour (Parsl's
        method: only ``priority`` without MPI mode, MPI's keys with it); return None for
        an acceptable specification."""
        if self.enable_mpi_mode:
            from parsl_htex.mpi_nodes import validate_mpi_resource_spec

            validate_mpi_resource_spec(spec)
            return
        priority = spec.get("priority")
        if priority is not None and (isinstance(priority, bool)
                                     or not isinstance(priority, (int, float))
                                     or math.isnan(priority)):
            raise InvalidResourceSpecification(
                {"priority"}, f"parsl_resource_specification['priority'] must be a number "
                f"(lower runs first), got {priority!r}")
        unknown = set(spec) - _ALLOWED_SPEC_KEYS
        if unknown:
            raise InvalidResourceSpecification(
                unknown, f"HighThroughputExecutor {self.label!r} does not support resource "
                f"specification keys {sorted(unknown)} (supported: "
                f"{sorted(_ALLOWED_SPEC_KEYS)}); MPI keys need "
                "MPIExecutor")

    # ------------------------------------------------------------------ threads

    def _sender(self) -> None:
        """Ship queued tasks in batches: everything queued by the time we look goes in one
        message (bounded in count and bytes)."""
        q = self._outgoing
        sock = self._task_sock
        assert sock is not None
        while True:
            item = q.get()
            if item is None:
                return
            if len(item) == 3:  # a task with a priority travels in a message of its own
                if not self._send_tasks(sock, P.prioritized_tasks(item[2], item[0] + item[1]),
                                        [item[0]]):
                    return
                continue
            parts = [P.TASKS, *item]
            count = 1
            size = len(item[1])
            stop = False
            held = None
            while count < _BATCH_LIMIT and size < _BATCH_BYTES:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                if len(item) == 3:
                    held = item
                    break
                parts += item
                count += 1
                size += len(item[1])
            if not self._send_tasks(sock, b"".join(parts), parts[1::2]):
                return
            if held is not None and not self._send_tasks(
                    sock, P.prioritized_tasks(held[2], held[0] + held[1]), [held[0]]):
                return
            if stop:
                return

    def _send_tasks(self, sock: zmq.Socket[Any], message: bytes, keys: List[bytes]) -> bool:
        """Send one task message; fail its tasks if it cannot go. False once stopping."""
        try:
            sock.send(message, copy=False)
        except zmq.ZMQError as e:
            if self._stop.is_set():
                return False
            logger.error("Executor %s could not send %d tasks to the interchange: %s",
                         self.label, len(keys), e)
            self._fail_keys(keys, InterchangeLost(self.label, f"sending tasks failed: {e}"))
        return True

    def _fail_keys(self, keys: List[bytes], exc: BaseException) -> None:
        futures = (self._tasks.pop(P.key_ids(key)[0], None) for key in keys)
        fail_futures(self.label, (f for f in futures if f is not None), exc)

    def _receiver(self) -> None:
        """Complete futures from result batches and watch the interchange's liveness."""
        sock = self._result_sock
        assert sock is not None
        tasks = self._tasks
        next_check = time.monotonic() + _LIVENESS_CHECK
        assert self._ping_sock is not None
        pinger = _Pinger(self._ping_sock, self.interchange_liveness_timeout)
        while not self._stop.is_set():
            try:
                if not sock.poll(_LIVENESS_CHECK_MS):
                    next_check = 0.0
                else:
                    for _ in range(256):
                        try:
                            frame = sock.recv(zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._handle_message(frame.buffer, tasks)
                        if not int(sock.get(_EVENTS)) & _POLLIN:
                            break
            except zmq.ZMQError as e:
                if self._stop.is_set():
                    return
                logger.exception("Executor %s result receiver failed: %s", self.label, e)
                self._interchange_gone(f"the result connection failed: {e}")
                return
            now = time.monotonic()
            if now >= next_check:
                next_check = now + _LIVENESS_CHECK
                proc = self.interchange_proc
                if proc is not None and proc.poll() is not None and not self._stop.is_set():
                    self._interchange_gone(f"interchange process {proc.pid} exited with code "
                                           f"{proc.returncode}; see "
                                           f"{os.path.join(self.logdir, 'interchange.log')}")
                    return
                if not pinger.check(now) and not self._stop.is_set():
                    self._interchange_unresponsive()
                    return

    def _handle_message(self, body: memoryview, tasks: Dict[Any, Future[Any]]) -> None:
        tag = body[:1]
        if tag == P.EVENT:
            self._handle_event(bytes(body[1:]))
            return
        if tag != P.RESULTS:
            logger.warning("Executor %s dropped a malformed message from the interchange",
                           self.label)
            return
        events = logger.isEnabledFor(logging.DEBUG)
        try:
            for htex_id, result_tag, payload, start, _ in P.iter_results(body):
                fut = tasks.pop(htex_id, None)
                if fut is None:
                    if result_tag == P.MONITORING:
                        self._monitoring_message(payload)
                        continue
                    logger.warning("Executor %s got a result for unknown htex_task_id=%s",
                                   self.label, htex_id)
                    continue
                ok, value = _serial.result_to_outcome(result_tag, payload)
                if events:
                    dfk_id = P.key_ids(body[start:start + P.KEY_SIZE])[1]
                    logger.debug("Result of task %s ok=%s", dfk_id, ok,
                                 extra={"task_id": dfk_id, "executor_task_id": htex_id,
                                        "executor": self.label, "event": "result_received"})
                if fut.done():
                    continue
                if ok:
                    fut.set_result(value)
                elif isinstance(value, ManagerLost) and value.block_id is not None:
                    self._fail_with_block_state(fut, value)
                else:
                    fut.set_exception(value)
        except P.MalformedMessage as e:
            logger.error("Executor %s dropped the rest of a malformed result batch from the "
                         "interchange: %s", self.label, e)

    def _monitoring_message(self, payload: memoryview) -> None:
        handler = self.monitoring_message_handler
        if handler is None:
            logger.warning("Executor %s dropped a monitoring message (%d bytes): no "
                           "monitoring plugin receives them", self.label, len(payload))
            return
        try:
            handler(bytes(payload))
        except Exception:
            logger.exception("Executor %s: the monitoring message handler failed",
                             self.label)

    def _fail_with_block_state(self, fut: Future[Any], error: ManagerLost) -> None:
        """Fail ``fut`` with ``error`` once the message says how the manager's block ended.

        Asking the provider can take a while (squeue, a cloud API), so it happens on a
        short-lived thread, never on the result receiver; the future fails in any case.
        """
        def explain() -> None:
            try:
                assert error.block_id is not None
                error.add_block_state(self._block_state_text(error.block_id))
            except Exception:
                logger.exception("Executor %s: could not look up block %s of lost manager %s",
                                 self.label, error.block_id, error.manager_id)
            finally:
                if not fut.done():
                    fut.set_exception(error)

        threading.Thread(target=explain, name=f"htex-{self.label}-manager-lost",
                         daemon=True).start()

    def _block_state_text(self, block_id: str) -> str:
        """``"block 0 (job 1234) ended with state TIMEOUT: ..."``, or its current state.

        A block whose manager was just lost is often still ending (Slurm reports COMPLETING
        for a while), so the provider is asked again, for a bounded time, until the block's
        state is terminal.
        """
        job_id = self.blocks_to_job_id.get(block_id)
        if job_id is None or self.provider is None:
            return f"block {block_id} is not a block this executor launched"
        js: Optional[JobStatus] = self.status().get(block_id)
        deadline = time.monotonic() + min(_LOST_BLOCK_WAIT_MAX,
                                          max(_LOST_BLOCK_WAIT_MIN, 2 * self.heartbeat_period))
        while (js is None or not js.terminal) and not self._stop.is_set():
            try:
                js = self.provider.status([job_id])[0]
            except Exception as e:
                logger.warning("Executor %s: provider status of block %s (job %s) failed: %s",
                               self.label, block_id, job_id, e)
                break
            if js.terminal or time.monotonic() >= deadline:
                break
            self._stop.wait(_LOST_BLOCK_POLL)
        if js is None:
            return f"block {block_id} (job {job_id}) has no known state"
        if not js.terminal:
            return f"block {block_id} (job {job_id}) is still {js.state.name}"
        text = f"block {block_id} (job {job_id}) ended with state {js.state.name}"
        return f"{text}: {js.message}" if js.message else text

    def _ever_registered(self, block_id: str) -> bool:
        """Whether a manager of ``block_id`` registered; asks the interchange only when the
        registration event has not been seen (it may still be on its way)."""
        if block_id in self._registered_blocks:
            return True
        try:
            return block_id in self.connected_blocks()
        except (ExecutorError, CommandTimeout):
            return True  # unknown: do not call the block a failure on a guess

    def _handle_event(self, body: bytes) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            logger.warning("Executor %s dropped a malformed event from the interchange",
                           self.label)
            return
        kind = event.get("kind")
        block = str(event.get("block_id"))
        if kind == "manager_registered":
            self._registered_blocks.add(block)
            logger.info("Executor %s: %s", self.label, event)
        elif kind == "manager_refused":
            self.block_errors[block] = event.get("reason", "")
            logger.error("Executor %s: block %s: %s", self.label, block, event.get("reason"))
        elif kind == "manager_lost":
            logger.error("Executor %s: manager %s of block %s lost", self.label,
                         event.get("manager_id"), block)
        else:
            logger.info("Executor %s: %s", self.label, event)

    def _interchange_unresponsive(self) -> None:
        """Kill an interchange that stopped answering, and fail the outstanding tasks."""
        proc = self.interchange_proc
        pid = proc.pid if proc is not None else None
        detail = (f"interchange process {pid} is alive but answered no liveness check for "
                  f"{self.interchange_liveness_timeout} s (interchange_liveness_timeout): it "
                  f"is stopped or stuck; it was killed. See "
                  f"{os.path.join(self.logdir, 'interchange.log')}")
        if proc is not None and proc.poll() is None:
            proc.kill()
        self._interchange_gone(detail)

    def _interchange_gone(self, detail: str) -> None:
        logger.error("Executor %s: %s", self.label, detail)
        self.set_bad_state_and_fail_all(InterchangeLost(self.label, detail))

    # ------------------------------------------------------------------ commands

    def _command(self, op: str, timeout: float = _COMMAND_TIMEOUT, **fields: Any) -> Any:
        """Ask the interchange something; raise CommandTimeout rather than wait forever."""
        sock = self._command_sock
        if sock is None:
            raise ExecutorError(self, "the executor is not started")
        proc = self.interchange_proc
        if proc is not None and proc.poll() is not None:
            raise InterchangeLost(self.label, f"interchange exited with code {proc.returncode}")
        with self._command_lock:
            req_id = str(next(self._command_ids)).encode()
            sock.send_multipart([req_id, json.dumps({"op": op, **fields}).encode()])
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandTimeout(op, timeout)
                # Waited for in slices, so an interchange that dies meanwhile is an
                # immediate InterchangeLost rather than a wait for the whole timeout.
                if not sock.poll(min(int(remaining * 1000) + 1, _LIVENESS_CHECK_MS)):
                    if proc is not None and proc.poll() is not None:
                        raise InterchangeLost(self.label, f"interchange exited with code "
                                                          f"{proc.returncode}")
                    if isinstance(self.executor_exception, InterchangeLost):
                        raise self.executor_exception
                    continue
                rid, body = sock.recv_multipart()
                if rid == req_id:
                    reply = json.loads(body)
                    if isinstance(reply, dict) and "error" in reply:
                        raise ExecutorError(self, f"interchange command {op!r} failed: "
                                            f"{reply['error']}")
                    return reply

    # ------------------------------------------------------------------ scaling interface

    def _get_launch_command(self, block_id: str) -> str:
        """The shell command that starts a block's manager.

        Every value is shell-quoted (labels and paths may hold spaces or ``$``), except
        the flags that are either empty or a fixed option.
        """
        if self.worker_task_port is None:
            raise ExecutorError(self, "cannot launch blocks before start()")
        template = self.launch_cmd if self.launch_cmd is not None else DEFAULT_LAUNCH_CMD
        pool = ("process_worker_pool" if shutil.which("process_worker_pool")
                else f"{shlex.quote(sys.executable)} -m parsl_htex.process_worker_pool")
        q = _quote
        probe = self.address_probe_timeout
        command = template.format(
            process_worker_pool=pool,
            debug="--debug" if self.worker_debug else "",
            max_workers_per_node=q(self.max_workers_per_node),
            prefetch_capacity=q(self.prefetch_capacity),
            cores_per_worker=q(self.cores_per_worker),
            mem_per_worker=q(self.mem_per_worker or 0),
            poll_period=q(self.poll_period),
            task_port=q(self.worker_task_port),
            result_port=q(self.worker_result_port),
            cert_dir=q(self.cert_dir),
            logdir=q(self.worker_logdir),
            logconf=q(self.logconf_path),
            block_id=q(block_id),
            heartbeat_period=q(self.heartbeat_period),
            heartbeat_threshold=q(self.heartbeat_threshold),
            address_probe_timeout_string=(f"--address_probe_timeout={q(probe)}" if probe
                                          else ""),
            drain_period=q(self.drain_period),
            cpu_affinity=q(self.cpu_affinity),
            enable_mpi_mode="--enable_mpi_mode" if self.enable_mpi_mode else "",
            mpi_launcher=q(self.mpi_launcher),
            accelerators=" ".join(q(a) for a in self.available_accelerators),
            addresses=q(self.all_addresses),
            nodes_per_block=q(getattr(self.provider, "nodes_per_block", 1)),
        )
        if self.worker_task_observer:
            command += f" --task-observer={q(self.worker_task_observer)}"
        return command

    @property
    def outstanding(self) -> int:
        """Tasks submitted whose results have not come back (counted on the submit side)."""
        return OutstandingCount(len(self._tasks))

    @property
    def workers_per_node(self) -> Union[int, float]:
        cores = getattr(self.provider, "cores_per_node", None)
        mem = getattr(self.provider, "mem_per_node", None)
        limits: List[float] = [self.max_workers_per_node]
        if cores:
            limits.append(cores // self.cores_per_worker)
        if mem and self.mem_per_worker:
            limits.append(mem // self.mem_per_worker)
        if self.available_accelerators:
            limits.append(len(self.available_accelerators))
        value = min(limits)
        return value if value == float("inf") else int(value)

    @property
    def command_client(self) -> CommandClient:
        """Parsl's command interface to the interchange (``run("CONNECTED_BLOCKS")``...)."""
        from parsl_htex.command_client import CommandClient

        return CommandClient(self)

    @property
    def connected_workers(self) -> int:
        return int(self._command("connected_workers"))

    def connected_managers(self) -> List[Dict[str, Any]]:
        """Each connected manager as the interchange sees it: Parsl's keys (``manager``,
        ``block_id``, ``worker_count``, ``tasks``, ``idle_duration``, ``active``,
        ``draining``, ``python_version``, ``parsl_version``) and ours (``manager_id``,
        ``hostname``, ``pid``, ``python``, ``htex_version``)."""
        result: List[Dict[str, Any]] = self._command("managers")
        return result

    def connected_managers_packages(self) -> Dict[str, Dict[str, str]]:
        """Manager id -> {distribution: version} of the Python packages each connected
        manager's interpreter has (as Parsl's method of the same name)."""
        result: Dict[str, Dict[str, str]] = self._command("manager_packages")
        return result

    def connected_blocks(self) -> List[str]:
        """Every block any of whose managers registered, including blocks since scaled in
        or ended (as Parsl reports them)."""
        result: List[str] = self._command("connected_blocks")
        self._registered_blocks.update(result)
        return result

    def hold_worker(self, manager_id: str) -> None:
        """Stop sending tasks to one manager (used before scaling its block in)."""
        self._command("hold", manager_ids=[manager_id])

    def scale_in(self, blocks: int, max_idletime: Optional[float] = None) -> List[str]:
        """Cancel up to ``blocks`` blocks whose managers are all idle.

        A block whose managers have not registered yet counts as idle only while no task
        is waiting. With ``max_idletime`` only blocks idle for at least that many seconds
        qualify;
        the longest-idle blocks go first. Their managers are held first so no task is
        sent to a block being cancelled.
        """
        if blocks <= 0:
            return []
        try:
            managers = self.connected_managers()
        except InterchangeLost as e:
            # No manager can get work any more: the blocks are cancelled without choosing.
            live = [b for b, js in self.status().items()
                    if not js.terminal and b in self.blocks_to_job_id]
            logger.info("Executor %s: %s; cancelling blocks %s", self.label, e, live[:blocks])
            self._cancel_blocks(live[:blocks])
            return live[:blocks]
        by_block: Dict[str, List[Dict[str, Any]]] = {}
        for m in managers:
            by_block.setdefault(str(m["block_id"]), []).append(m)
        status = self.status()
        work_waiting = bool(self._tasks)
        candidates: List[Tuple[float, str]] = []
        for block_id, js in status.items():
            if js.terminal or block_id not in self.blocks_to_job_id:
                continue
            ms = by_block.get(block_id, [])
            if any(m["tasks"] for m in ms):
                continue
            if not ms and work_waiting:
                # Still starting, with tasks waiting for it (with max_blocks=0 it is the
                # only block there will ever be): cancelling it would strand them.
                continue
            idle = min((m["idle_duration"] for m in ms), default=float("inf"))
            if max_idletime is not None and idle < max_idletime:
                continue
            candidates.append((idle, block_id))
        candidates.sort(reverse=True)
        chosen = [b for _, b in candidates[:blocks]]
        held = [m["manager_id"] for b in chosen for m in by_block.get(b, [])]
        if held:
            self._command("hold", manager_ids=held)
            self._command("stop_managers", manager_ids=held)
        self._cancel_blocks(chosen)
        return chosen

    def status(self) -> Dict[str, JobStatus]:
        """Block statuses; a failed block whose manager was refused says why.

        A block that ended without any of its managers ever registering (its job exited,
        even with code 0, before workers connected: a broken ``worker_init``, a missing
        interpreter) is reported MISSING, as in Parsl, so the block error handler counts
        it as a failure instead of the strategy replacing it forever while tasks wait.
        """
        statuses = super().status()
        for block_id, js in statuses.items():
            if js.state in _ENDED_UNREGISTERED and not self._ever_registered(block_id):
                ended = js.state.name
                js.state = JobState.MISSING
                js.message = (f"{ended}: {js.message}; " if js.message else f"{ended}; ") + (
                    "no manager of this block ever registered with the interchange: the "
                    "workers failed to start or to connect; see the block's output in "
                    f"{getattr(self.provider, 'script_dir', None) or 'the run folder'}")
        if self.block_errors:
            for block_id, js in statuses.items():
                reason = self.block_errors.get(block_id)
                if reason and js.terminal and js.message and reason not in js.message:
                    js.message = f"{js.message}; {reason}"
        return statuses

    # ------------------------------------------------------------------ shutdown

    def _fail_all_outstanding(self, exception: BaseException) -> None:
        """Fail every outstanding future, each with its own copy of ``exception``."""
        tasks = self._tasks

        def take_all() -> Iterator[Future[Any]]:
            while tasks:
                try:
                    yield tasks.popitem()[1]
                except KeyError:
                    return

        fail_futures(self.label, take_all(), exception)

    def shutdown(self, block: bool = False) -> None:
        """Stop the interchange, cancel blocks, stop threads; bounded in time, idempotent.

        ``block`` is accepted for Parsl's signature; shutdown always waits, boundedly.
        """
        if self._shut_down:
            return
        self._shut_down = True
        logger.info("Shutting down HighThroughputExecutor %s", self.label)
        self._stop.set()
        proc = self.interchange_proc
        if proc is not None and proc.poll() is None:
            try:
                self._command("shutdown", timeout=3.0)
            except Exception as e:
                logger.warning("Executor %s: interchange did not acknowledge shutdown (%s); "
                               "terminating it", self.label, e)
                proc.terminate()
            try:
                proc.wait(timeout=_SHUTDOWN_GRACE)
            except subprocess.TimeoutExpired:
                logger.error("Executor %s: interchange pid %d did not exit; killing it",
                             self.label, proc.pid)
                proc.kill()
                proc.wait(timeout=_SHUTDOWN_GRACE)
        try:
            super().shutdown()
        except Exception:
            logger.exception("Executor %s: cancelling blocks failed", self.label)
        self._outgoing.put(None)
        for t in self._threads:
            t.join(timeout=_SHUTDOWN_GRACE)
            if t.is_alive():
                logger.error("Executor %s: thread %s did not stop", self.label, t.name)
        if self._tasks:
            self._fail_all_outstanding(ExecutorError(
                self, "the executor was shut down before the task finished"))
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None
        logger.info("HighThroughputExecutor %s shut down", self.label)
