"""MonitoringHub: Parsl's monitoring switch, attached to the DFK through core's hooks.

``Config(monitoring=MonitoringHub(...))`` registers the hub as a pluggy plugin. It records
the DFK's side of every task (states, tries, failures, blocks) from the hooks, and the
workers' side (``running``, ``running_ended``, resource samples) from a radio per executor.
Everything goes to the database writer process
(:class:`~parsl_monitoring.writer_process.WriterProcess`), which batches writes to SQLite
or PostgreSQL. Per state change the hooks cost a tuple and a deque append; with the hub
as the only plugin, core calls them directly, without pluggy's dispatch
(:func:`parsl.plugins.manager.hook_if_implemented`).
"""
from __future__ import annotations

import base64
import datetime
import getpass
import json
import logging
import os
import platform
import sys
import threading
import time
import traceback
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from parsl.errors import BadParameter
from parsl.plugins.hookspecs import hookimpl
from parsl_monitoring import kinds as W
from parsl_monitoring.radios import (
    FilesystemRadio,
    HTEXRadio,
    MultiprocessingQueueRadio,
    RadioConfig,
    Receiver,
    UDPRadio,
    make_sender,
    start_executor_receiver,
    start_receiver,
)
from parsl_monitoring.remote import ThreadTaskObserver

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.states import States
    from parsl.dataflow.taskrecord import TaskRecord
    from parsl_monitoring.writer_process import WriterProcess

logger = logging.getLogger(__name__)

_OBSERVER_FACTORY = "parsl_monitoring.remote:task_observer"
_FINAL = frozenset({"exec_done", "memo_done", "failed", "dep_fail"})
#: A state change whose task row gets only its new state (shared: the writer never
#: changes it).
_NO_FIELDS: Dict[str, Any] = {}


def _default_workflow_name() -> str:
    script = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return os.path.basename(script) or "interactive"


class MonitoringHub:
    """Record a run's tasks, tries, resources, blocks and nodes in a database.

    Parameters follow Parsl's ``MonitoringHub``. ``logging_endpoint`` is an SQLAlchemy URL
    (``sqlite:///path.db``, ``postgresql+psycopg://user@host:port/db``); default
    ``sqlite:///<parent of the run dir>/monitoring.db``, one file for every run.
    ``resource_monitoring_interval`` is seconds between samples of a running task; 0 means
    only the first and the last sample. ``hub_port`` and ``hub_port_range`` are accepted
    for old configs and ignored (a DeprecationWarning says so): workers reach the hub
    through their executor's ``remote_monitoring_radio``.

    Extra keyword-only knobs: ``flush_period`` (seconds between database writes and
    worker sends), ``database_retry_timeout`` (how long shutdown keeps retrying an
    unreachable database before counting its rows as lost), ``node_poll_period``.
    """

    def __init__(self, hub_address: Optional[str] = None, hub_port: Optional[int] = None,
                 hub_port_range: Optional[Tuple[int, int]] = None,
                 workflow_name: Optional[str] = None, workflow_version: Optional[str] = None,
                 logging_endpoint: Optional[str] = None, monitoring_debug: bool = False,
                 resource_monitoring_enabled: bool = True,
                 resource_monitoring_interval: float = 30, *,
                 flush_period: float = 0.5, database_retry_timeout: float = 30.0,
                 node_poll_period: float = 2.0) -> None:
        owner = "MonitoringHub"
        if hub_port is not None:
            warnings.warn("MonitoringHub: hub_port is deprecated and ignored; set the "
                          "executor's remote_monitoring_radio (e.g. UDPRadio(port=...))",
                          DeprecationWarning, stacklevel=2)
        if hub_port_range is not None:
            warnings.warn("MonitoringHub: hub_port_range is deprecated and ignored; set the "
                          "executor's remote_monitoring_radio (e.g. UDPRadio(port=...))",
                          DeprecationWarning, stacklevel=2)
        if not isinstance(resource_monitoring_interval, (int, float)) or \
                isinstance(resource_monitoring_interval, bool) or \
                resource_monitoring_interval < 0:
            raise BadParameter(owner, "resource_monitoring_interval",
                               resource_monitoring_interval, "a number of seconds >= 0")
        for name, value in (("flush_period", flush_period),
                            ("database_retry_timeout", database_retry_timeout),
                            ("node_poll_period", node_poll_period)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise BadParameter(owner, name, value, "a number of seconds > 0")
        if logging_endpoint is not None:
            if not isinstance(logging_endpoint, str):
                raise BadParameter(owner, "logging_endpoint", logging_endpoint,
                                   "an SQLAlchemy database URL string or None")
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(logging_endpoint)
            except ArgumentError as e:
                raise BadParameter(owner, "logging_endpoint", logging_endpoint,
                                   f"an SQLAlchemy database URL such as "
                                   f"'sqlite:///monitoring.db' ({e})") from None
        self.hub_address = hub_address
        self.hub_port = hub_port
        self.hub_port_range = hub_port_range
        self.workflow_name = workflow_name
        self.workflow_version = workflow_version
        self.logging_endpoint = logging_endpoint
        self.monitoring_debug = monitoring_debug
        self.resource_monitoring_enabled = resource_monitoring_enabled
        self.resource_monitoring_interval = resource_monitoring_interval
        self.flush_period = flush_period
        self.database_retry_timeout = database_retry_timeout
        self.node_poll_period = node_poll_period

        self.writer: Optional[WriterProcess] = None
        self.run_id: Optional[str] = None
        self._put: Any = None
        self._receivers: List[Receiver] = []
        self._observers: List[Tuple[Any, ThreadTaskObserver]] = []
        self._node_executors: List[Any] = []
        self._nodes: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._stop_nodes = threading.Event()
        self._node_thread: Optional[threading.Thread] = None
        self._log_handler: Optional[logging.Handler] = None

    @property
    def dbm_proc(self) -> Optional[WriterProcess]:
        """The database writer process under Parsl's name (``pid``, ``is_alive()``);
        None until the DFK starts monitoring."""
        return self.writer

    def __repr__(self) -> str:
        return (f"MonitoringHub(logging_endpoint={self.logging_endpoint!r}, "
                f"resource_monitoring_interval={self.resource_monitoring_interval!r})")

    # ------------------------------------------------------------------ start

    def _start(self, dfk: DataFlowKernel) -> None:
        if self.writer is not None:
            return
        package_logger = logging.getLogger("parsl_monitoring")
        if self.monitoring_debug:
            package_logger.setLevel(logging.DEBUG)
        elif package_logger.level == logging.NOTSET:
            package_logger.setLevel(logging.INFO)
        self._log_handler = getattr(dfk, "log_handler", None)
        if self._log_handler is not None:
            # The run's parsl.log also gets this package's lines (losses, database trouble).
            package_logger.addHandler(self._log_handler)
        run_dir = os.path.abspath(dfk.run_dir)
        if self.logging_endpoint is None:
            self.logging_endpoint = "sqlite:///" + os.path.join(os.path.dirname(run_dir),
                                                                "monitoring.db")
        self.run_id = dfk.run_id
        # Imported here: ``python -m parsl_monitoring.writer_process`` must be able to run
        # it as __main__ after the package itself is imported.
        from parsl_monitoring.writer_process import WriterProcess

        # Parsl's database manager writes database_manager.log in the run directory (or
        # the run's LogConfig's file of that name); so does the writer process.
        run_logging = getattr(getattr(dfk, "config", None), "initialize_logging", True)
        self.writer = WriterProcess(self.logging_endpoint, dfk.run_id,
                                    flush_period=self.flush_period,
                                    retry_timeout=self.database_retry_timeout,
                                    log_dir=run_dir if run_logging is not False else None,
                                    log_config=None if isinstance(run_logging, bool)
                                    else run_logging,
                                    debug=self.monitoring_debug)
        self._put = self.writer.put
        began = dfk.time_began.timestamp() if hasattr(dfk, "time_began") else time.time()
        self._put((W.WORKFLOW, {
            "workflow_name": self.workflow_name or _default_workflow_name(),
            "workflow_version": self.workflow_version or str(
                datetime.datetime.fromtimestamp(began).replace(microsecond=0)),
            "time_began": began, "host": platform.node(), "user": getpass.getuser(),
            "rundir": run_dir,
        }))
        self.writer.start()
        logger.info("Monitoring run %s into %s", dfk.run_id, self.logging_endpoint)

    def _radio_for(self, executor: Any) -> RadioConfig:
        radio = getattr(executor, "remote_monitoring_radio", None)
        if radio is None:
            if hasattr(executor, "monitoring_message_handler"):
                return HTEXRadio()  # HTEX: over the executor's own connections
            if hasattr(executor, "task_observer"):
                return MultiprocessingQueueRadio()  # tasks run in this process
            provider = getattr(executor, "provider", None)
            if provider is None or type(provider).__name__ == "LocalProvider":
                return FilesystemRadio(poll_period=min(0.2, self.flush_period))
            return UDPRadio(address=self.hub_address)
        if not isinstance(radio, RadioConfig):
            raise BadParameter(type(executor).__name__, "remote_monitoring_radio", radio,
                               "a monitoring radio such as UDPRadio() or FilesystemRadio()")
        if isinstance(radio, UDPRadio) and radio.address is None:
            if self.hub_address:
                radio.address = self.hub_address
            elif hasattr(executor, "task_observer"):
                radio.address = "127.0.0.1"  # its senders run in this process
        return radio

    @hookimpl
    def parsl_prepare_executor(self, dfk: DataFlowKernel, executor: Any) -> None:
        self._start(dfk)
        if hasattr(executor, "connected_managers"):
            self._node_executors.append(executor)
        in_process = hasattr(executor, "task_observer")
        if not in_process and not hasattr(executor, "worker_task_observer"):
            return
        radio = self._radio_for(executor)
        receiver: Receiver
        if isinstance(radio, HTEXRadio) and hasattr(executor, "monitoring_message_handler"):
            receiver = start_executor_receiver(executor, self._on_worker_payload)
        else:
            receiver = start_receiver(radio, executor.label, dfk.run_dir,
                                      self._on_worker_batch, self._on_loss)
        self._receivers.append(receiver)
        if in_process:
            # Tasks run on threads of this process: observed here, no resource rows (as
            # in Parsl), events sent through the radio all the same.
            observer = ThreadTaskObserver(make_sender(receiver.worker_config),
                                          self.flush_period)
            executor.task_observer = observer
            self._observers.append((executor, observer))
            logger.info("Monitoring executor %s through %r", executor.label, radio)
            return
        resources = (self.resource_monitoring_enabled and executor.monitor_resources())
        config = {"radio": receiver.worker_config,
                  "resource_interval": self.resource_monitoring_interval if resources else None,
                  "flush_period": self.flush_period}
        token = json.dumps({"factory": _OBSERVER_FACTORY, "config": config})
        executor.worker_task_observer = base64.urlsafe_b64encode(token.encode()).decode()
        logger.info("Monitoring executor %s through %r", executor.label, radio)

    @hookimpl
    def parsl_dfk_start(self, dfk: DataFlowKernel) -> None:
        self._start(dfk)
        if self._node_executors and self._node_thread is None:
            self._node_thread = threading.Thread(target=self._poll_nodes, daemon=True,
                                                 name="parsl-monitoring-nodes")
            self._node_thread.start()

    # ------------------------------------------------------------------ DFK events

    @hookimpl
    def parsl_task_state_change(self, dfk: DataFlowKernel, task_record: TaskRecord,
                                old_state: States, new_state: States) -> None:
        """One flat message per state change: its status row and, where the task row
        changes, the new columns (see ``kinds.STATE``)."""
        put = self._put
        if put is None:
            return
        # ``_name_`` is the plain attribute behind Enum's ``name`` property (a descriptor
        # call, measurable at a few calls per task).
        name = new_state._name_
        if name == "launched":
            # A try is dated when it was handed to the executor, as its try row is: its
            # worker may already report it running before the DFK marks it launched. The
            # task row changes on the first try only; a retry's status row says it.
            launch_fields: Optional[Dict[str, Any]] = None
            if old_state._name_ == "pending":
                launch_fields = _depends(task_record) if task_record.depends else _NO_FIELDS
            put((W.STATE, task_record.id, task_record.try_id, name,
                 task_record.try_time_launched or time.time(), launch_fields))
            return
        now = time.time()
        if name == "pending":
            # Flat, in kinds.PENDING_COLUMNS order (see there why).
            kwargs = task_record.kwargs
            # Most tasks have no keyword arguments: no streams, no files, nothing to look up.
            io_columns = _NO_IO_COLUMNS if not kwargs else (
                _stream(kwargs.get("stdout")), _stream(kwargs.get("stderr")),
                _stream(kwargs.get("stdin")),
                # As Parsl stores them: str() of the lists ('None' without one).
                str(kwargs.get("inputs")), str(kwargs.get("outputs")))
            put((W.PENDING, task_record.id, task_record.try_id, now, task_record.func_name,
                 "True" if task_record.memoize else "False", task_record.time_invoked,
                 task_record.executor, *io_columns))
            return
        fields: Dict[str, Any]
        if name in _FINAL:
            fail_history = (task_record.fail_history[-1] if name in ("dep_fail", "failed")
                            and task_record.fail_history else None)
            if not (task_record.depends and old_state._name_ == "pending"):
                # Flat, in kinds.FINAL_COLUMNS order.
                put((W.FINAL, task_record.id, task_record.try_id, name, now,
                     task_record.time_returned or now, task_record.fail_count,
                     task_record.fail_cost, task_record.hashsum, fail_history))
                return
            fields = {"task_time_returned": task_record.time_returned or now,
                      "task_fail_count": task_record.fail_count,
                      "task_fail_cost": task_record.fail_cost,
                      "task_hashsum": task_record.hashsum}
            if fail_history is not None:
                fields["task_fail_history"] = fail_history
        elif name == "joining":
            fields = {"task_joins": _joins(task_record.joins)}
        else:
            fields = {}
        if task_record.depends and old_state._name_ == "pending":
            fields.update(_depends(task_record))
        put((W.STATE, task_record.id, task_record.try_id, name, now, fields))

    @hookimpl
    def parsl_task_try_launched(self, dfk: DataFlowKernel, task_record: TaskRecord,
                                try_id: int, executor_label: str) -> None:
        put = self._put
        if put is None:
            return
        put((W.TRY_LAUNCHED, task_record.id, try_id, executor_label,
             task_record.try_time_launched or time.time(),
             getattr(task_record.exec_fu, "parsl_executor_task_id", None)))

    @hookimpl
    def parsl_task_try_finished(self, dfk: DataFlowKernel, task_record: TaskRecord,
                                try_id: int, exception: Optional[BaseException]) -> None:
        put = self._put
        if put is None:
            return
        put((W.TRY_FINISHED, task_record.id, try_id,
             task_record.try_time_returned or time.time(),
             None if exception is None else _describe_failure(exception),
             task_record.executor,
             getattr(task_record.exec_fu, "parsl_executor_task_id", None)))

    @hookimpl
    def parsl_block_status_change(self, dfk: DataFlowKernel, executor_label: str,
                                  changes: Dict[str, Any]) -> None:
        put = self._put
        if put is None:
            return
        now = time.time()
        for block_id, status in changes.items():
            put((W.BLOCK, {"executor_label": executor_label, "block_id": str(block_id),
                           "job_id": getattr(status, "job_id", None), "timestamp": now,
                           "status": getattr(getattr(status, "state", None), "name",
                                             str(status)),
                           "message": getattr(status, "message", None)}))

    # ------------------------------------------------------------------ worker events

    def _on_loss(self, count: int, reason: str) -> None:
        if self._put is not None:
            self._put((W.LOST, count, reason))

    def _on_worker_batch(self, label: str, messages: List[List[Any]]) -> None:
        """Worker events (keyed by executor task id) for the writer, which turns them into
        try/status/resource rows (see :mod:`parsl_monitoring.worker_events`)."""
        put = self._put
        if put is not None:
            put((W.WORKER_EVENTS, label, messages))

    def _on_worker_payload(self, label: str, payload: bytes) -> None:
        """Like :meth:`_on_worker_batch` for a still-encoded batch: the writer process
        decodes it, so this costs the executor's result thread one append."""
        put = self._put
        if put is not None:
            put((W.WORKER_PAYLOAD, label, payload))

    # ------------------------------------------------------------------ nodes

    def _poll_nodes(self) -> None:
        while not self._stop_nodes.wait(self.node_poll_period):
            self._record_nodes()

    def _record_nodes(self) -> None:
        now = time.time()
        for executor in self._node_executors:
            try:
                managers = executor.connected_managers()
            except Exception as e:
                logger.debug("monitoring: cannot list managers of %s: %s", executor.label, e)
                continue
            seen = set()
            for m in managers:
                key = (executor.label, str(m.get("manager_id")))
                seen.add(key)
                state = {"active": bool(m.get("active")), "draining": bool(m.get("draining"))}
                previous = self._nodes.get(key)
                if previous == state:
                    continue
                event = ("registered" if previous is None else
                         "draining" if state["draining"] else
                         "active" if state["active"] else "held")
                self._nodes[key] = state
                self._put((W.NODE, {
                    "hostname": str(m.get("hostname") or ""), "uid": key[1],
                    "block_id": str(m.get("block_id")), "executor_label": executor.label,
                    "worker_count": m.get("worker_count"), "active": state["active"],
                    "python_v": m.get("python"), "timestamp": now,
                    "last_heartbeat": now, "event": event}))
            for key in [k for k in self._nodes if k[0] == executor.label and k not in seen]:
                del self._nodes[key]
                self._put((W.NODE, {"hostname": "", "uid": key[1], "block_id": "",
                                    "executor_label": executor.label, "active": False,
                                    "timestamp": now, "event": "removed"}))

    # ------------------------------------------------------------------ end of run

    @hookimpl
    def parsl_dfk_cleanup(self, dfk: DataFlowKernel) -> None:
        """Wait (bounded) for workers' last events; the rest waits for the executors'
        shutdown (:meth:`parsl_dfk_executors_shutdown`), whose block states it records."""
        writer = self.writer
        if writer is None:
            return
        deadline = time.monotonic() + max(5.0, 10 * self.flush_period)
        while True:
            writer.probe(max(0.1, deadline - time.monotonic()))
            if writer.unended <= 0 or time.monotonic() >= deadline:
                break
            time.sleep(min(0.05, self.flush_period))  # workers send every flush_period
        if writer.unended > 0:
            logger.warning("monitoring: %d finished tries sent no running_ended event within "
                           "the wait; their worker-side rows may be incomplete",
                           writer.unended)
        self._stop_nodes.set()
        if self._node_thread is not None:
            self._node_thread.join(10)
        for executor, observer in self._observers:
            executor.task_observer = None  # tasks submitted from now on run unobserved
            observer.close()

    @hookimpl
    def parsl_dfk_executors_shutdown(self, dfk: DataFlowKernel) -> None:
        """Executors are shut down (their last block states are in): record the nodes as
        gone, close the run's workflow row and stop the writer."""
        writer = self.writer
        if writer is None:
            return
        self._record_nodes_gone()
        for receiver in self._receivers:
            receiver.stop()
        writer.put((W.END_EVENTS,))
        counts = dfk.task_state_counts
        completed = sum(n for s, n in counts.items() if s.name in ("exec_done", "memo_done"))
        failed = sum(n for s, n in counts.items() if s.name in ("failed", "dep_fail"))
        writer.put((W.WORKFLOW, {"time_completed": time.time(),
                                 "tasks_completed_count": completed,
                                 "tasks_failed_count": failed,
                                 "end_reason": _end_reason()}))
        if not writer.sync(self.database_retry_timeout + 5):
            logger.error("monitoring: database %s did not accept the run's rows in time",
                         self.logging_endpoint)
        elif writer.lost:
            writer.put((W.WORKFLOW, {"messages_lost": writer.lost}))
        lost_before_stop = writer.lost
        writer.stop(self.database_retry_timeout + 15)
        if writer.lost:
            logger.error("monitoring: %d monitoring messages of run %s were lost: %s",
                         writer.lost, self.run_id, writer.lost_reasons)
        elif lost_before_stop == 0:
            logger.info("monitoring: run %s recorded completely (%d rows)", self.run_id,
                        writer.rows_written)
        self._put = None
        self.writer = None  # a later parsl.load() of the same config starts a new run
        self._receivers = []
        self._observers = []
        self._node_executors = []
        self._node_thread = None
        self._stop_nodes = threading.Event()
        if self._log_handler is not None:
            logging.getLogger("parsl_monitoring").removeHandler(self._log_handler)
            self._log_handler = None

    def _record_nodes_gone(self) -> None:
        now = time.time()
        for key in list(self._nodes):
            del self._nodes[key]
            self._put((W.NODE, {"hostname": "", "uid": key[1], "block_id": "",
                                "executor_label": key[0], "active": False,
                                "timestamp": now, "event": "run ended"}))


def _end_reason() -> str:
    exc = sys.exc_info()[1]
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    if exc is not None:
        return f"exception: {type(exc).__name__}"
    return "cleanup"


def _depends(task_record: TaskRecord) -> Dict[str, Any]:
    """The columns a task with dependencies gets once they resolved: the ids it waited
    for and its inputs with the futures among them replaced by their results (as Parsl)."""
    fields = {"task_depends": ",".join(str(getattr(d, "tid", "")) for d in task_record.depends
                                       if getattr(d, "tid", None) is not None)}
    if "inputs" in task_record.kwargs:
        fields["task_inputs"] = str(task_record.kwargs["inputs"])
    return fields


#: The stdout, stderr, stdin, inputs and outputs columns of a task without keyword
#: arguments: what _stream(None) and str(None) give.
_NO_IO_COLUMNS = ("", "", "", "None", "None")


def _stream(value: Any) -> str:
    """A task's stdout/stderr as Parsl's task table holds it: '' when not redirected, the
    path of a (path, mode) tuple or of a path-like, a File's URL."""
    if value is None:
        return ""
    if isinstance(value, tuple) and value:
        value = value[0]
    url = getattr(value, "url", None)  # a parsl File, local or not
    if isinstance(url, str):
        return url
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _joins(value: Any) -> Optional[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    ids = [str(getattr(f, "tid", "")) for f in items if getattr(f, "tid", None) is not None]
    return ",".join(ids) or None


def _describe_failure(exception: BaseException) -> str:
    """The exception's type and message with the traceback where it was raised: the
    worker's (remote) traceback when the task ran elsewhere, else the local one."""
    remote = getattr(exception, "__parsl_remote_traceback__", None) \
        or getattr(exception, "traceback_text", None)
    headline = f"{type(exception).__name__}: {exception}"
    if isinstance(remote, str) and remote:
        return remote if headline in remote else f"{remote.rstrip()}\n{headline}\n"
    return "".join(traceback.format_exception(type(exception), exception,
                                              exception.__traceback__))
