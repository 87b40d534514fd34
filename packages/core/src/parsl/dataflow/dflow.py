"""The DataFlowKernel: turns app calls into tasks, runs them when ready, completes futures.

Per-task work is on the hot path of every workflow, so it is kept lean: no per-task log
line unless DEBUG is enabled for parsl.log, no per-task lock except the one guarding
dependency counts, hooks skipped entirely when no plugin implements them, and completion
cascades run iteratively (a long chain of failed or memoized tasks cannot overflow the
stack).
"""
from __future__ import annotations

import atexit
import concurrent.futures._base
import concurrent.futures.thread
import datetime
import functools
import itertools
import logging
import os
import random
import threading
import time
import traceback
import uuid
import weakref
from collections import deque
from concurrent.futures import CancelledError, Future
from concurrent.futures._base import FINISHED as _FINISHED
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

from parsl.app.errors import RemoteExceptionWrapper
from parsl.app.futures import DataFuture
from parsl.config import Config
from parsl.data_provider.data_manager import DataManager, staging_task_id
from parsl.data_provider.files import File
from parsl.dataflow import bulk_failure, gc_policy, leanfuture, parsl_records
from parsl.dataflow.dependency_resolvers import (
    SHALLOW_DEPENDENCY_RESOLVER,
    DependencyResolver,
    shallow_traverse_to_gather,
    shallow_traverse_to_unwrap,
)
from parsl.dataflow.errors import (
    DependencyError,
    JoinError,
    RootCause,
    UnknownExecutorError,
    root_causes_of,
)
from parsl.dataflow.futures import AppFuture
from parsl.dataflow.memoization import BasicMemoizer, Memoizer
from parsl.dataflow.queue_metrics import QueueMetrics, log_state_changes
from parsl.dataflow.retries import try_cost
from parsl.dataflow.rundirs import make_rundir
from parsl.dataflow.states import FINAL_FAILURE_STATES, FINAL_STATES, States
from parsl.dataflow.taskrecord import EMPTY_DICT, TaskRecord, TryRecord
from parsl.errors import ConfigurationError, NoDataFlowKernelError
from parsl.executors.base import (
    ParslExecutor,
    TaskContext,
    failing_in_bulk,
    submitting_task,
)
from parsl.executors.threads import ThreadPoolExecutor
from parsl.log_context import TASK_EVENTS, TaskEvents, set_process_context
from parsl.logconfigs.run import initialize_run_logging
from parsl.plugins import aliases
from parsl.plugins.manager import hook_if_implemented, make_plugin_manager

logger = logging.getLogger(__name__)
_ROOT = parsl_records.ROOT

INTERNAL_EXECUTOR = "_parsl_internal"

__all__ = ["AUTO_LOGNAME", "FINAL_FAILURE_STATES", "FINAL_STATES", "DataFlowKernel",
           "DataFlowKernelLoader"]


class _AutoLogname:
    """Sentinel for ``stdout=parsl.AUTO_LOGNAME``: the DFK picks a path under run_dir."""

    _instance: Optional[_AutoLogname] = None

    def __new__(cls) -> _AutoLogname:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "parsl.AUTO_LOGNAME"

    def __reduce__(self) -> str:
        return "AUTO_LOGNAME"


AUTO_LOGNAME = _AutoLogname()


def _cleanup_if_alive(dfk_ref: weakref.ref[DataFlowKernel]) -> None:
    dfk = dfk_ref()
    if dfk is not None:
        dfk._atexit_cleanup()


def _cleanup_before_thread_joins(dfk: DataFlowKernel) -> None:
    """Clean ``dfk`` up at interpreter exit before non-daemon threads are joined.

    ``atexit`` handlers run only after the interpreter has joined every non-daemon thread,
    and concurrent.futures runs all queued work items before its threads end: a script
    interrupted with Ctrl-C outside ``with parsl.load(...)`` would first run every queued
    task. Hooks registered with ``threading._register_atexit`` run before those joins
    (last registered first), so cleanup cancels the queued tasks instead.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return
    try:
        register(functools.partial(_cleanup_if_alive, weakref.ref(dfk)))
    except RuntimeError:
        logger.debug("interpreter is shutting down; relying on atexit cleanup only")


_INTERNAL_SOURCES = frozenset(
    os.path.normcase(os.path.abspath(path)) for path in (
        __file__, concurrent.futures._base.__file__, concurrent.futures.thread.__file__,
        leanfuture.__file__))


def _keep_app_traceback(exception: BaseException) -> None:
    """Record the traceback of a failed try as the user will want to read it.

    The exception's ``__traceback__`` grows every time the DFK re-raises it (taking the
    result of a future, unwrapping a dependency), so a DependencyError quoting it later
    would show mostly Parsl's own frames. Captured now, without the frames of the DFK and
    of concurrent.futures, it starts at the app. Remote tracebacks set by an executor win.
    """
    if getattr(exception, "__parsl_remote_traceback__", None) is not None:
        return
    tb = exception.__traceback__
    while tb is not None and os.path.normcase(tb.tb_frame.f_code.co_filename) in \
            _INTERNAL_SOURCES:
        tb = tb.tb_next
    if tb is None:
        return
    try:
        exception.__parsl_remote_traceback__ = "".join(  # type: ignore[attr-defined]
            traceback.format_exception(type(exception), exception, tb))
    except AttributeError:
        logger.debug("cannot attach a traceback to %s", type(exception).__name__)


def _lift_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _lift_getattr(obj: Any, name: str) -> Any:
    return getattr(obj, name)


def _custom_resolver(resolver: Any) -> Optional[DependencyResolver]:
    """The resolver the DFK must call for every argument, or None for the built-in fast
    path (shallow resolution, unless a type was registered on the shallow traversals)."""
    if resolver is None:
        resolver = SHALLOW_DEPENDENCY_RESOLVER
    for field in ("traverse_to_gather", "traverse_to_unwrap"):
        if not callable(getattr(resolver, field, None)):
            raise ConfigurationError(
                f"Config: dependency_resolver must be a parsl.dataflow.dependency_resolvers."
                f"DependencyResolver (with callable {field}), got {resolver!r}")
    if resolver is SHALLOW_DEPENDENCY_RESOLVER and \
            len(shallow_traverse_to_gather.registry) <= 2 and \
            len(shallow_traverse_to_unwrap.registry) <= 2:
        return None
    assert isinstance(resolver, DependencyResolver) or hasattr(resolver, "traverse_to_gather")
    return resolver  # type: ignore[no-any-return]


#: Keyword arguments that are staged out, never in.
_STAGED_OUT_KWARGS = frozenset({"outputs", "stdout", "stderr"})
#: Task arguments the DataManager may stage in.
_STAGEABLE = (File, DataFuture)
#: Arguments that may make a task wait or be staged (DataFuture is a Future).
_FUTURE_OR_FILE = (Future, File)


def _log_failed_stage_out(task_id: int, file: File, transfer: Future[Any]) -> None:
    """Stage-out fails after its task succeeded; say so at ERROR, with the task id."""
    if transfer.cancelled():
        return
    exc = transfer.exception()
    if exc is not None:
        logger.error("Task %s: stage-out of %s failed: %s: %s", task_id, file.url,
                     type(exc).__name__, exc, extra={"task_id": task_id})


class DataFlowKernel:
    """Manages the tasks of one run: dependencies, launching, retries and completion."""

    def __init__(self, config: Optional[Config] = None) -> None:
        if config is None:
            config = Config()
        if not isinstance(config, Config):
            raise ConfigurationError(f"DataFlowKernel: expected a parsl Config, got "
                                     f"{config!r} ({type(config).__name__})")
        self.config = config
        self.cleanup_called = False
        self.run_dir = make_rundir(config.run_dir)
        self.run_id = str(uuid.uuid4())
        self.time_began = datetime.datetime.now()
        self.log_config, self._undo_logging = initialize_run_logging(
            config.initialize_logging, self.run_dir, config.log_level)
        set_process_context(run_id=self.run_id)
        #: Per-task events, when logged (level TASK_EVENTS or lower); see log_context.
        self._events = (TaskEvents(logger, on_flush=log_state_changes(self.run_id))
                        if logger.isEnabledFor(TASK_EVENTS) else None)
        logger.info("Starting DataFlowKernel run_id=%s run_dir=%s", self.run_id, self.run_dir)
        try:
            self._start(config)
        except BaseException:
            # A run that fails to start must not leave its parsl.log handler attached
            # and the parsl loggers' levels lowered for whatever the process does next.
            set_process_context(run_id=None)
            if self._undo_logging is not None:
                undo, self._undo_logging = self._undo_logging, None
                undo()
            raise

    def _start(self, config: Config) -> None:
        """The rest of __init__: executors, memoizer and plugins."""
        self.tasks: Dict[int, TaskRecord] = {}
        self._task_counter = itertools.count()
        self._dep_lock = threading.Lock()
        self._final_lock = threading.Lock()
        self._final_counts: Dict[States, int] = {state: 0 for state in FINAL_STATES}
        self._launching = threading.local()
        self._garbage_collect = config.garbage_collect
        self._retries = config.retries
        self._retry_handler = config.retry_handler
        self._resolver = _custom_resolver(config.dependency_resolver)

        #: The config's MonitoringHub (or None), as Parsl's DFK exposes it.
        self.monitoring: Any = config.monitoring
        extra_plugins = list(config.plugins)
        if config.monitoring is not None:
            extra_plugins.append(config.monitoring)
        self.plugin_manager = make_plugin_manager(extra_plugins)
        self._hook_state = hook_if_implemented(self.plugin_manager, "parsl_task_state_change")
        self._hook_try_launched = hook_if_implemented(self.plugin_manager,
                                                      "parsl_task_try_launched")
        self._hook_try_finished = hook_if_implemented(self.plugin_manager,
                                                      "parsl_task_try_finished")

        self.data_manager = DataManager(self)
        self.executors: Dict[str, ParslExecutor] = {}
        self._wants_context: Dict[str, bool] = {}
        self._user_labels: List[str] = []
        self.job_status_poller: Any = None
        internal = ThreadPoolExecutor(max_threads=config.internal_tasks_max_threads,
                                      label=INTERNAL_EXECUTOR)
        self.add_executors([*config.executors, internal])

        if config.memoizer is not None:
            self.memoizer: Memoizer = config.memoizer
        else:
            # Config-level checkpointing keeps Parsl 1.3's meaning: only the listed
            # checkpoint_files are loaded.
            self.memoizer = BasicMemoizer(checkpoint_files=config.checkpoint_files or [],
                                          checkpoint_period=config.checkpoint_period,
                                          checkpoint_mode=config.checkpoint_mode)
        bind = getattr(self.memoizer, "bind_dfk", None)
        if bind is not None:
            bind(self, config.app_cache)
        self._memo_enabled = bool(getattr(self.memoizer, "enabled", True)) and config.app_cache
        self._memo_persist = getattr(self.memoizer, "persist", None)
        self.memoizer.start(run_dir=self.run_dir, config_run_dir=config.run_dir)

        self._gc_relaxed = gc_policy.relax_full_collections()
        self._queue_metrics: Optional[QueueMetrics] = None
        if self._events is not None:
            self._queue_metrics = QueueMetrics(lambda: self.task_state_counts, self._events)
            self._queue_metrics.start()
        atexit.register(self._atexit_cleanup)
        _cleanup_before_thread_joins(self)
        self.plugin_manager.hook.parsl_dfk_start(dfk=self)

    # ------------------------------------------------------------------ executors

    def add_executors(self, executors: Sequence[ParslExecutor]) -> None:
        """Start executors and make them available to apps by label."""
        block_executors = []
        for executor in executors:
            if executor.label in self.executors:
                raise ConfigurationError(f"executor label {executor.label!r} is already in use")
            kind = aliases.public_name(type(executor))
            logger.info("Adding executor %s of type %s", executor.label, kind,
                        extra={"parsl.executor.label": executor.label,
                               "parsl.executor.type": kind})
            executor.run_id = self.run_id
            executor.run_dir = self.run_dir
            executor.log_config = self.log_config
            provider = getattr(executor, "provider", None)
            if provider is not None:
                script_dir = os.path.join(self.run_dir, "submit_scripts")
                os.makedirs(script_dir, exist_ok=True)
                provider.script_dir = script_dir
            self.plugin_manager.hook.parsl_prepare_executor(dfk=self, executor=executor)
            executor.start()
            self.executors[executor.label] = executor
            self._wants_context[executor.label] = not isinstance(executor, ThreadPoolExecutor)
            if executor.label != INTERNAL_EXECUTOR:
                self._user_labels.append(executor.label)
            if provider is not None:
                block_executors.append(executor)
                self._publish_block_status(executor)
            logger.info("Started executor %s (%s)", executor.label, type(executor).__name__)
        if block_executors:
            if self.job_status_poller is None:
                from parsl.jobs.job_status_poller import JobStatusPoller

                self.job_status_poller = JobStatusPoller(
                    strategy=self.config.strategy, max_idletime=self.config.max_idletime,
                    strategy_period=self.config.strategy_period)
            self.job_status_poller.add_executors(block_executors)

    def _publish_block_status(self, executor: ParslExecutor) -> None:
        """Forward block state changes to the parsl_block_status_change hook, if implemented."""
        hook = hook_if_implemented(self.plugin_manager, "parsl_block_status_change")
        listeners = getattr(executor, "block_status_listeners", None)
        if hook is None or listeners is None:
            return

        def publish(changed_executor: ParslExecutor, changes: Dict[str, Any]) -> None:
            hook(dfk=self, executor_label=changed_executor.label, changes=changes)

        listeners.append(publish)

    # ------------------------------------------------------------------ submission

    def submit(self, func: Callable[..., Any], app_args: Sequence[Any],
               executors: Union[str, Sequence[str]] = "all", cache: bool = False,
               ignore_for_cache: Optional[Sequence[str]] = None,
               app_kwargs: Optional[Dict[str, Any]] = None, join: bool = False,
               func_name: Optional[str] = None, fn_hash: Optional[str] = None,
               app_kind: str = "python") -> AppFuture:
        """Add a task for ``func(*app_args, **app_kwargs)`` and return its future."""
        if self.cleanup_called:
            raise NoDataFlowKernelError(
                "cannot submit a task to a DataFlowKernel that has been cleaned up; "
                "call parsl.load() again")
        if not app_kwargs:
            app_kwargs = EMPTY_DICT
        if executors == "all" and not join and len(self._user_labels) == 1:
            label = self._user_labels[0]
        else:
            label = self._choose_executor(executors, join)
        task_id = next(self._task_counter)
        if func_name is None:
            func_name = getattr(func, "__name__", type(func).__name__)
        record = TaskRecord(self, task_id, func, func_name, app_args, app_kwargs, label,
                            cache and self._memo_enabled, ignore_for_cache or (), join,
                            app_kwargs.get("parsl_resource_specification") or EMPTY_DICT,
                            time.time(), app_kind)
        record.fn_hash = fn_hash
        app_fu = AppFuture(record)
        record.app_fu = app_fu
        self.tasks[task_id] = record

        try:
            if app_kwargs or self._resolver is not None:
                if app_kwargs:
                    self._prepare_special_kwargs(record, app_kwargs)
                depends = self._gather_dependencies(record)
            else:
                # Only positional arguments: most often none can make the task wait.
                depends = []
                for arg in app_args:
                    if isinstance(arg, _FUTURE_OR_FILE):
                        depends = self._gather_dependencies(record)
                        break
        except BaseException:
            # The app call raises (bad outputs, no staging provider for a file): the task
            # never existed, so nothing may wait for it.
            del self.tasks[task_id]
            raise
        if self._events is not None and depends:
            # A task without dependencies is launched at once: its launched (or
            # memo_hit) event carries the submission time instead (see log_context).
            self._events.add("submitted", task_id, app=func_name, executor=label,
                             depends=[getattr(d, "tid", None) for d in depends])
        if _ROOT.handlers:
            if parsl_records.listening():
                parsl_records.submitted(self.run_id, record, depends)
            self._set_state(record, States.pending)
        elif self._hook_state is not None:
            self._set_state(record, States.pending)
        else:
            record.status = States.pending
        if depends:
            record.depends = depends
            record.pending_deps = len(depends)
            for dep in depends:
                dep.add_done_callback(record._on_dependency_done)
        else:
            self._launch_if_ready(record)
        return app_fu

    def _choose_executor(self, executors: Union[str, Sequence[str]], join: bool) -> str:
        if join:
            return INTERNAL_EXECUTOR
        if executors == "all":
            choices = self._user_labels
        else:
            if isinstance(executors, str):
                executors = [executors]
            for label in executors:
                if label not in self.executors:
                    raise UnknownExecutorError(label, self._user_labels)
            choices = list(executors)
        if len(choices) == 1:
            return choices[0]
        if not choices:
            raise ConfigurationError("no executors are configured")
        return random.choice(choices)

    def _prepare_special_kwargs(self, record: TaskRecord, kwargs: Dict[str, Any]) -> None:
        """Resolve AUTO_LOGNAME std streams and stage out ``outputs`` and File streams."""
        for name in ("stdout", "stderr"):
            value = kwargs.get(name)
            if value is AUTO_LOGNAME:
                kwargs[name] = self._auto_logname(record, name)
                # The path names the task, so it must not be part of the memo key.
                if name not in record.ignore_for_cache:
                    record.ignore_for_cache = (*record.ignore_for_cache, name)
        outputs = kwargs.get("outputs")
        if outputs or isinstance(kwargs.get("stdout"), File) or \
                isinstance(kwargs.get("stderr"), File):
            self._bind_outputs(record, outputs or [])

    def _auto_logname(self, record: TaskRecord, stream: str) -> Any:
        if self.config.std_autopath is not None:
            return self.config.std_autopath(record, stream)
        return self.default_std_autopath(record, stream)

    def default_std_autopath(self, taskrecord: TaskRecord, kw: str) -> str:
        """Parsl's AUTO_LOGNAME path: ``run_dir/task_logs/NNNN/task_<id>_<app>[_<label>].<kw>``
        (a folder per 10,000 tasks)."""
        label = taskrecord.kwargs.get("label")
        suffix = f"_{label}" if label is not None else ""
        folder = os.path.join(self.run_dir, "task_logs", f"{taskrecord.id // 10000:04d}")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder,
                            f"task_{taskrecord.id:04d}_{taskrecord.func_name}{suffix}.{kw}")

    def _bind_outputs(self, record: TaskRecord, outputs: Sequence[Any]) -> None:
        """Give each output File (and File ``stdout``/``stderr``) a DataFuture.

        As in Parsl, the task receives a clean copy of each File that the staging
        provider may annotate (``local_path``), while the DataFuture holds the user's
        File; the DataFuture completes with the stage-out transfer if there is one.
        """
        app_fu = record.app_fu
        assert app_fu is not None
        kwargs = record.kwargs
        inhibited = bool(kwargs.get("_parsl_staging_inhibit"))
        staged_outputs = []
        data_futures = []
        for item in outputs:
            if not isinstance(item, File):
                raise ConfigurationError(
                    f"task {record.id} (app {record.func_name!r}): outputs must be parsl "
                    f"File objects, got {item!r} ({type(item).__name__})")
            copy, data_future = self._stage_out(record, item, inhibited)
            staged_outputs.append(copy)
            data_futures.append(data_future)
        if outputs:
            kwargs["outputs"] = staged_outputs
        app_fu._outputs = data_futures
        for name in ("stdout", "stderr"):
            stream = kwargs.get(name)
            if isinstance(stream, File):
                kwargs[name], data_future = self._stage_out(record, stream, inhibited)
                setattr(app_fu, f"_{name}_future", data_future)

    def _stage_out(self, record: TaskRecord, file: File, inhibited: bool
                   ) -> Tuple[File, DataFuture]:
        assert record.app_fu is not None
        if inhibited or (file.is_local() and not self._has_custom_staging(record.executor)):
            return file, DataFuture(record.app_fu, file, tid=record.id)
        copy = file.cleancopy()
        token = staging_task_id.set(record.id)
        try:
            staged = self.data_manager.stage_out(copy, record.executor, record.app_fu)
            record.func = self.data_manager.replace_task_stage_out(copy, record.func,
                                                                  record.executor)
        finally:
            staging_task_id.reset(token)
        if staged is None:
            return copy, DataFuture(record.app_fu, file, tid=record.id)
        staged.add_done_callback(functools.partial(_log_failed_stage_out, record.id, file))
        return copy, DataFuture(staged, file, tid=record.id)

    def _has_custom_staging(self, label: str) -> bool:
        """Whether ``label`` has its own storage_access (``[]`` included), so even local
        files go through its providers."""
        return getattr(self.executors[label], "storage_access", None) is not None

    def _gather_dependencies(self, record: TaskRecord) -> List[Future[Any]]:
        """Futures the task must wait for, staging input files on the way."""
        if self._resolver is not None:
            return self._gather_with_resolver(record, self._resolver)
        depends: List[Future[Any]] = []
        args = record.args
        kwargs = record.kwargs
        stage = not kwargs.get("_parsl_staging_inhibit")
        staged_args = None
        for index, arg in enumerate(args):
            if isinstance(arg, _STAGEABLE):
                new = self._stage_in(record, arg) if stage else arg
                if new is not arg:
                    if staged_args is None:
                        staged_args = list(args)
                    staged_args[index] = new
                if isinstance(new, Future):
                    depends.append(new)
            elif isinstance(arg, Future):
                depends.append(arg)
        if staged_args is not None:
            record.args = tuple(staged_args)
        if kwargs:
            for key, value in kwargs.items():
                if isinstance(value, _STAGEABLE) and key not in _STAGED_OUT_KWARGS:
                    new = self._stage_in(record, value) if stage else value
                    if new is not value:
                        kwargs[key] = new
                    if isinstance(new, Future):
                        depends.append(new)
                elif isinstance(value, Future):
                    depends.append(value)
            inputs = kwargs.get("inputs")
            if inputs:
                new_inputs = list(inputs)
                for index, item in enumerate(inputs):
                    staged = self._stage_in(record, item) \
                        if stage and isinstance(item, _STAGEABLE) else item
                    new_inputs[index] = staged
                    if isinstance(staged, Future):
                        depends.append(staged)
                kwargs["inputs"] = new_inputs
        return depends

    def _gather_with_resolver(self, record: TaskRecord,
                              resolver: DependencyResolver) -> List[Future[Any]]:
        """:meth:`_gather_dependencies` through a configured dependency resolver."""
        gather = resolver.traverse_to_gather
        depends: List[Future[Any]] = []

        stage = not record.kwargs.get("_parsl_staging_inhibit")

        def visit(value: Any) -> Any:
            if stage and isinstance(value, _STAGEABLE):
                value = self._stage_in(record, value)
            depends.extend(gather(value))
            return value

        record.args = tuple(visit(arg) for arg in record.args)
        kwargs = record.kwargs
        for key, value in kwargs.items():
            if key != "inputs" and key not in _STAGED_OUT_KWARGS:
                kwargs[key] = visit(value)
        inputs = kwargs.get("inputs")
        if inputs:
            kwargs["inputs"] = [visit(item) for item in inputs]
        return depends

    def _unwrap_with_resolver(self, record: TaskRecord, resolver: DependencyResolver
                              ) -> List[Tuple[BaseException, Future[Any]]]:
        """Failed dependencies, or none after replacing arguments by their values."""
        failures: List[Tuple[BaseException, Future[Any]]] = []
        for fut in record.depends:
            if fut.cancelled():
                failures.append((CancelledError(f"dependency {fut!r} was cancelled"), fut))
            else:
                exc = fut.exception(timeout=0)
                if exc is not None:
                    failures.append((exc, fut))
        if failures:
            return failures
        unwrap = resolver.traverse_to_unwrap
        record.args = tuple(unwrap(arg) for arg in record.args)
        kwargs = record.kwargs
        for key, value in kwargs.items():
            if key not in ("inputs", "outputs"):
                kwargs[key] = unwrap(value)
        inputs = kwargs.get("inputs")
        if inputs:
            kwargs["inputs"] = [unwrap(item) for item in inputs]
        return failures

    def _stage_in(self, record: TaskRecord, item: Union[File, DataFuture]) -> Any:
        """What the task receives for a File or DataFuture argument ``item``."""
        file = item if isinstance(item, File) else item.file_obj
        if file.is_local() and not self._has_custom_staging(record.executor):
            return item
        token = staging_task_id.set(record.id)
        try:
            new, record.func = self.data_manager.optionally_stage_in(item, record.func,
                                                                     record.executor)
        finally:
            staging_task_id.reset(token)
        return new

    # ------------------------------------------------------------------ state

    def _set_state(self, record: TaskRecord, new_state: States) -> None:
        old_state = record.status
        record.status = new_state
        if _ROOT.handlers and parsl_records.listening():
            parsl_records.state_changed(self.run_id, record, old_state, new_state)
        if self._hook_state is not None:
            self._hook_state(dfk=self, task_record=record, old_state=old_state,
                             new_state=new_state)

    def _finalize(self, record: TaskRecord, state: States) -> None:
        """Record a final state; with garbage_collect, forget the task.

        The executor's future is let go: a user holding many AppFutures would otherwise
        keep one more object per task alive for the garbage collector to walk.
        """
        record.time_returned = time.time()
        record.exec_fu = None
        if _ROOT.handlers or self._hook_state is not None:
            self._set_state(record, state)
        else:
            record.status = state
        with self._final_lock:
            self._final_counts[state] += 1
        if self._garbage_collect:
            self.tasks.pop(record.id, None)

    @property
    def task_state_counts(self) -> Dict[States, int]:
        """How many tasks are in each state, including finished and forgotten ones."""
        counts = {state: 0 for state in States}
        with self._final_lock:
            counts.update(self._final_counts)
        for record in list(self.tasks.values()):
            if record.status not in FINAL_STATES:
                counts[record.status] += 1
        return counts

    @property
    def task_count(self) -> int:
        return sum(self.task_state_counts.values())

    # ------------------------------------------------------------------ launching

    def _dependency_done(self, record: TaskRecord) -> None:
        with self._dep_lock:
            record.pending_deps -= 1
            ready = record.pending_deps == 0
        if ready:
            self._launch_if_ready(record)

    def _launch_if_ready(self, record: TaskRecord) -> None:
        """Launch ``record``; when called from inside a completion cascade, queue it.

        Completing one future may make many dependents ready, whose completion (memo hit,
        dependency failure) makes more ready. Running them from a queue instead of
        recursively keeps the stack flat for chains of any length.
        """
        # One deque per thread, kept: the record being launched stays at its head, so a
        # non-empty deque means this call is inside a cascade.
        try:
            queue: Deque[TaskRecord] = self._launching.queue
        except AttributeError:
            queue = self._launching.queue = deque()
        queue.append(record)
        if len(queue) > 1:
            return
        try:
            while queue:
                current = queue[0]
                try:
                    self._launch_now(current)
                except Exception as e:
                    logger.exception("Task %s: internal error while launching",
                                     current.id, extra={"task_id": current.id})
                    self._fail(current, e)
                queue.popleft()
        except BaseException:
            queue.clear()
            raise

    def _launch_now(self, record: TaskRecord) -> None:
        app_fu = record.app_fu
        assert app_fu is not None
        if app_fu._state in leanfuture.DONE_STATES:  # cancelled or failed meanwhile
            if app_fu.cancelled() and record.status not in FINAL_STATES:
                record.fail_history.append("cancelled")
                self._finalize(record, States.failed)
            return
        if self._resolver is not None:
            failures = self._unwrap_with_resolver(record, self._resolver)
            if failures:
                self._dependency_failed(record, failures)
                return
        elif record._depends:
            failures = self._unwrap_dependencies(record)
            if failures:
                self._dependency_failed(record, failures)
                return
            if self._events is not None and record.try_id == 0:
                self._events.add("deps_resolved", record.id)
        if record.memoize and record.try_id == 0:
            memo_fu = self.memoizer.check_memo(record)
            if memo_fu is not None:
                record.from_memo = True
                if self._events is not None:
                    self._events.add("memo_hit", record.id, **self._event_ids(record))
                memo_fu.add_done_callback(functools.partial(self._memo_hit, record))
                return
        self._launch_task(record)

    def _memo_hit(self, record: TaskRecord, memo_fu: Future[Any]) -> None:
        """Complete a task from the memoizer's future: its result, or the exception an
        identical task failed with earlier in this run.

        A reused result is recorded (and checkpointed) again as in Parsl, so this run's
        checkpoint holds everything it computed or reused and ``get_last_checkpoint()``
        alone restores a chain of runs.
        """
        assert record.app_fu is not None
        exception = memo_fu.exception()
        if exception is not None:
            self._finalize(record, States.memo_done)
            record.app_fu.set_exception(exception)
            return
        result = memo_fu.result()
        self.memoizer.update_memo_result(record, result)
        publish = functools.partial(self._publish_result, record, result, States.memo_done)
        if self._memo_persist is not None:
            self._memo_persist(record, result, publish)
        else:
            publish()

    def _unwrap_dependencies(self, record: TaskRecord) -> List[Tuple[BaseException, Future[Any]]]:
        """Replace futures in the task's arguments by their results; return failures."""
        failures: List[Tuple[BaseException, Future[Any]]] = []

        def value_of(fut: Future[Any]) -> Any:
            try:
                return fut.result()
            except BaseException as e:
                if isinstance(e, CancelledError):
                    e = CancelledError(f"dependency {fut!r} was cancelled")
                failures.append((e, fut))
                return None

        record.args = tuple(value_of(a) if isinstance(a, Future) else a for a in record.args)
        kwargs = record.kwargs
        for key, value in kwargs.items():
            if isinstance(value, Future):
                kwargs[key] = value_of(value)
        inputs = kwargs.get("inputs")
        if inputs:
            kwargs["inputs"] = [value_of(i) if isinstance(i, Future) else i for i in inputs]
        return failures

    def _dependency_failed(self, record: TaskRecord,
                           failures: List[Tuple[BaseException, Future[Any]]]) -> None:
        causes: List[RootCause] = []
        tids = []
        for exc, fut in failures:
            dep_record = getattr(fut, "task_record", None)
            if dep_record is None and hasattr(fut, "parent"):
                dep_record = getattr(fut.parent, "task_record", None)
            tid = dep_record.id if dep_record is not None else None
            name = dep_record.func_name if dep_record is not None else None
            causes.extend(root_causes_of(exc, tid, name))
            # A future from outside Parsl is named by its repr, as Parsl does.
            tids.append((exc, f"task {tid}" if tid is not None else repr(fut)))
        error = DependencyError(tids, record.id, causes, record.func_name)
        message = "Task %s (app %s) cannot run: %d dependencies failed; root cause: %s"
        batch = failing_in_bulk.get()
        if batch is None:
            logger.info(message, record.id, record.func_name, len(failures),
                        causes[0].describe().splitlines()[0] if causes else "unknown",
                        extra={"task_id": record.id, "event": "dep_failed"})
        else:
            # Part of an executor's bulk failure, which is logged once with a count.
            batch.dependents_failed += 1
            if self._events is not None:
                self._events.add("dep_failed", record.id)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(message, record.id, record.func_name, len(failures),
                             causes[0].describe().splitlines()[0] if causes else "unknown",
                             extra={"task_id": record.id})
        record.fail_history.append(repr(error))
        self._finalize(record, States.dep_fail)
        assert record.app_fu is not None
        record.app_fu.set_exception(error)

    def _launch_task(self, record: TaskRecord) -> None:
        label = record.executor
        executor = self.executors[label]
        record.try_time_launched = time.time()
        record.try_time_returned = None
        token = None
        if self._wants_context[label]:
            token = submitting_task.set(TaskContext(record.id, record.try_id, record.func_name))
        try:
            exec_fu = executor.submit(record.func, record.resource_specification,
                                      *record.args, **record.kwargs)
        except Exception as e:
            # A relaunch refused during a bulk failure is counted in the batch's one line.
            logger.log(logging.DEBUG if failing_in_bulk.get() is not None else logging.INFO,
                       "Task %s: executor %s refused try %s: %s", record.id, label,
                       record.try_id, e, extra={"task_id": record.id})
            exec_fu = Future()
            exec_fu.set_exception(e)
        finally:
            if token is not None:
                submitting_task.reset(token)
        record.exec_fu = exec_fu
        if _ROOT.handlers:
            self._set_state(record, States.launched)
            if parsl_records.listening():
                parsl_records.launched(self.run_id, record, exec_fu)
        elif self._hook_state is not None:
            self._set_state(record, States.launched)
        else:
            record.status = States.launched
        if self._hook_try_launched is not None:
            self._hook_try_launched(dfk=self, task_record=record, try_id=record.try_id,
                                    executor_label=label)
        if self._events is not None:
            # Dated when the try was handed over, before the executor's submit(): its
            # processes may log the task before submit() returns.
            self._events.add_at(record.try_time_launched or time.time(), "launched",
                                record.id, executor_task_id=getattr(
                                    exec_fu, "parsl_executor_task_id", None),
                                **self._event_ids(record))
        exec_fu.add_done_callback(record)

    @staticmethod
    def _event_ids(record: TaskRecord) -> Dict[str, Any]:
        """Ids of a launched/memo_hit event; for a task that logged no submitted event
        (no dependencies), also its app and submission time."""
        ids: Dict[str, Any] = {"try_id": record.try_id, "executor": record.executor}
        if record.try_id == 0 and not record.depends:
            ids["app"] = record.func_name
            ids["started"] = record.time_invoked
        return ids

    # ------------------------------------------------------------------ completion

    def _handle_exec_update(self, record: TaskRecord, future: Future[Any]) -> None:
        record.try_time_returned = time.time()
        # The common case read straight from the future's state (every Future has these
        # attributes): a try that returned a plain result, with no hook or history.
        if future._state == _FINISHED and future._exception is None:
            result = future._result
            if not (record.join or self._hook_try_finished is not None
                    or record.try_history is not None
                    or isinstance(result, RemoteExceptionWrapper)):
                if record.memoize or self._events is not None:
                    self._complete(record, result)
                else:
                    self._finalize(record, States.exec_done)
                    record.app_fu.set_result(result)  # type: ignore[union-attr]
                return
        # The exception is read, not re-raised: raising would add this frame to its
        # traceback, and an executor may have handed one exception to many futures.
        if future.cancelled():
            error: Optional[BaseException] = CancelledError(
                f"task {record.id} (app {record.func_name!r}) was cancelled by executor "
                f"{record.executor!r}, which was shut down before the task ran")
        else:
            error = future.exception()
        if error is not None:
            batch = failing_in_bulk.get()
            if batch is not None:
                batch.defer(bulk_failure.fail_records, (record, error))
            else:
                self._try_failed(record, error)
            return
        result = future.result()
        if isinstance(result, RemoteExceptionWrapper):
            try:
                result.reraise()
            except BaseException as e:
                self._try_failed(record, e)
                return
        if self._hook_try_finished is not None:
            self._hook_try_finished(dfk=self, task_record=record, try_id=record.try_id,
                                    exception=None)
        if record.try_history is not None:
            self._record_try(record, None)
        if record.join:
            self._handle_join_result(record, result)
        else:
            self._complete(record, result)

    def _complete(self, record: TaskRecord, result: Any) -> None:
        if record.memoize:
            self.memoizer.update_memo_result(record, result)
            # With task_exit checkpointing the memoizer publishes once the result is on
            # disk, so a completed future is never lost to a crash.
            if self._memo_persist is not None:
                self._memo_persist(record, result,
                                   functools.partial(self._publish_result, record, result))
                return
        self._publish_result(record, result)

    def _publish_result(self, record: TaskRecord, result: Any,
                        state: States = States.exec_done) -> None:
        if self._events is not None:
            self._events.add("completed", record.id)
        self._finalize(record, state)
        assert record.app_fu is not None
        record.app_fu.set_result(result)

    def _record_try(self, record: TaskRecord, exception: Optional[BaseException]) -> None:
        if record.try_history is None:
            record.try_history = []
        record.try_history.append(TryRecord(record.try_id, record.executor,
                                            record.try_time_launched or 0.0,
                                            record.try_time_returned or time.time(),
                                            exception))

    def _try_failed(self, record: TaskRecord, exception: BaseException) -> None:
        _keep_app_traceback(exception)
        record.fail_count += 1
        record.fail_history.append(repr(exception))
        self._record_try(record, exception)
        if self._hook_try_finished is not None:
            self._hook_try_finished(dfk=self, task_record=record, try_id=record.try_id,
                                    exception=exception)
        cost, exception = try_cost(self._retry_handler, exception, record)
        record.fail_cost += cost
        assert record.app_fu is not None
        if (record.fail_cost <= self._retries and not record.app_fu.done()
                and not self.cleanup_called):
            logger.log(logging.DEBUG if failing_in_bulk.get() is not None else logging.INFO,
                       "Task %s (app %s) try %s failed on %s with %s: %s; retrying "
                       "(cost so far %s of %s)", record.id, record.func_name, record.try_id,
                       record.executor, type(exception).__name__, exception,
                       record.fail_cost, self._retries,
                       extra={"task_id": record.id, "try_id": record.try_id,
                              "executor": record.executor, "event": "try_failed"})
            record.try_id += 1
            self._set_state(record, States.fail_retryable)
            self._launch_if_ready(record)
            return
        self._fail(record, exception)

    def _fail(self, record: TaskRecord, exception: BaseException) -> None:
        if record.memoize and record.hashsum is not None:
            try:
                self.memoizer.update_memo_exception(record, exception)
            except Exception:
                logger.exception("Task %s: the memoizer could not record its exception",
                                 record.id, extra={"task_id": record.id})
        # In a bulk failure the executor logged the reason once; a line per task would
        # cost more than failing the task.
        batch = failing_in_bulk.get()
        if batch is None:
            logger.info("Task %s (app %s) failed after %s tries on %s: %s: %s", record.id,
                        record.func_name, record.try_id + 1, record.executor,
                        type(exception).__name__, exception,
                        extra={"task_id": record.id, "try_id": record.try_id,
                               "event": "failed"})
        else:
            batch.failed += 1
            if self._events is not None:
                self._events.add("failed", record.id, try_id=record.try_id,
                                 exception=type(exception).__name__)
        self._finalize(record, States.failed)
        assert record.app_fu is not None
        if not record.app_fu.done():
            record.app_fu.set_exception(exception)

    def _handle_join_result(self, record: TaskRecord, result: Any) -> None:
        if isinstance(result, Future):
            inner: List[Future[Any]] = [result]
        elif isinstance(result, (list, tuple)) and all(isinstance(f, Future) for f in result):
            inner = list(result)
        else:
            error = TypeError(f"join_app {record.func_name!r} (task {record.id}) must return "
                              f"a Future or a list of Futures, not {type(result).__name__}")
            self._try_failed(record, error)
            return
        record.joins = result
        self._set_state(record, States.joining)
        if not inner:
            self._join_done(record)
            return
        remaining = [len(inner)]
        lock = threading.Lock()

        def one_done(_: Future[Any]) -> None:
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                self._join_done(record)

        for fut in inner:
            fut.add_done_callback(one_done)

    def _join_done(self, record: TaskRecord) -> None:
        joins = record.joins
        inner = [joins] if isinstance(joins, Future) else list(joins)
        failures = []
        for fut in inner:
            try:
                fut.result()
            except BaseException as e:
                failures.append((e, fut))
        if failures:
            causes: List[RootCause] = []
            tids = []
            for exc, fut in failures:
                dep = getattr(fut, "task_record", None)
                tid = dep.id if dep is not None else None
                causes.extend(root_causes_of(exc, tid, dep.func_name if dep else None))
                tids.append((exc, f"task {tid}" if tid is not None else None))
            self._try_failed(record, JoinError(tids, record.id, causes, record.func_name))
            return
        if isinstance(joins, Future):
            self._complete(record, joins.result())
        else:
            self._complete(record, [f.result() for f in inner])

    # ------------------------------------------------------------------ lifted operators

    def _lifted_operation(self, fut: AppFuture, op: str, key: Any) -> AppFuture:
        func = _lift_getitem if op == "getitem" else _lift_getattr
        return self.submit(func, (fut, key), executors=[INTERNAL_EXECUTOR],
                           func_name=f"{fut.task_record.func_name}.{op}", app_kind="internal")

    # ------------------------------------------------------------------ run control

    def wait_for_current_tasks(self) -> None:
        """Block until every task submitted so far (and any they submit) has finished."""
        logger.info("Waiting for all remaining tasks to complete")
        while True:
            pending = [r.app_fu for r in list(self.tasks.values())
                       if r.app_fu is not None and not r.app_fu.done()]
            if not pending:
                break
            for fut in pending:
                try:
                    fut.exception()
                except CancelledError:
                    pass
        logger.info("All remaining tasks completed")

    def checkpoint(self, tasks: Optional[Sequence[TaskRecord]] = None) -> str:
        """Write a checkpoint of completed tasks now; return the checkpoint directory."""
        return self.memoizer.checkpoint(tasks)

    def cleanup(self) -> None:
        """Shut down executors, close the run's log, and unload this DFK.

        Does not wait for running tasks (see ``exit_mode``); queued tasks of thread
        executors are cancelled so their futures fail instead of hanging.
        """
        if self.cleanup_called:
            logger.info("DataFlowKernel.cleanup called again; ignoring")
            return
        self.cleanup_called = True
        logger.info("DFK cleanup initiated")
        self._log_task_summary()
        try:
            self.plugin_manager.hook.parsl_dfk_cleanup(dfk=self)
        except Exception:
            logger.exception("a parsl_dfk_cleanup hook raised")
        try:
            self.memoizer.close()
        except Exception:
            logger.exception("error closing the memoizer")
        if self.job_status_poller is not None:
            self.job_status_poller.close()
        for label, executor in list(self.executors.items()):
            try:
                logger.info("Shutting down executor %s", label)
                executor.shutdown()
            except Exception:
                logger.exception("error shutting down executor %s", label)
        try:
            self.plugin_manager.hook.parsl_dfk_executors_shutdown(dfk=self)
        except Exception:
            logger.exception("a parsl_dfk_executors_shutdown hook raised")
        try:
            atexit.unregister(self._atexit_cleanup)
        except Exception:
            logger.exception("could not unregister the atexit handler")
        if self._gc_relaxed:
            self._gc_relaxed = False
            gc_policy.restore_full_collections()
        if self._queue_metrics is not None:
            self._queue_metrics.stop()
        logger.info("DFK cleanup complete")
        if DataFlowKernelLoader._dfk is self:
            DataFlowKernelLoader._dfk = None
        set_process_context(run_id=None)
        if self._undo_logging is not None:
            undo, self._undo_logging = self._undo_logging, None
            undo()

    def _log_task_summary(self) -> None:
        """Parsl's end-of-run lines: how many tasks ended (or are left) in each state."""
        logger.info("Summary of tasks in DFK:")
        for state, count in self.task_state_counts.items():
            if count:
                logger.info("Tasks in state %s: %d", state, count)
        logger.info("End of summary")

    @property
    def _cleanup_called(self) -> bool:
        """Old name of :attr:`cleanup_called`, kept for code written against it."""
        return self.cleanup_called

    def _atexit_cleanup(self) -> None:
        if not self.cleanup_called:
            logger.warning("Python is exiting with a DFK still running: cleaning up. "
                           "Call dfk.cleanup() or use 'with parsl.load(config):'")
            self.cleanup()

    def __enter__(self) -> DataFlowKernel:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        mode = self.config.exit_mode
        logger.debug("Exiting the DFK context manager in mode %s", mode)
        if mode == "cleanup":
            self.cleanup()
        elif mode == "skip":
            logger.info("exit_mode is skip: not cleaning up the DFK")
        elif mode == "wait":
            if exc_type is None:
                self.wait_for_current_tasks()
            self.cleanup()

    def __repr__(self) -> str:
        return f"<DataFlowKernel run_dir={self.run_dir!r} executors={list(self.executors)}>"


class DataFlowKernelLoader:
    """Holds the current DFK behind ``parsl.load``, ``parsl.dfk`` and ``parsl.clear``."""

    _dfk: Optional[DataFlowKernel] = None
    _lock = threading.Lock()

    @classmethod
    def clear(cls) -> None:
        """Forget the loaded DFK (without cleaning it up)."""
        cls._dfk = None

    @classmethod
    def load(cls, config: Union[Config, str, os.PathLike[str], None] = None) -> DataFlowKernel:
        """Load a configuration (a Config, a TOML file path, or None for threads)."""
        with cls._lock:
            if cls._dfk is not None:
                raise ConfigurationError(
                    "Config has already been loaded; call parsl.dfk().cleanup() or "
                    "parsl.clear() before loading another")
            if isinstance(config, (str, os.PathLike)):
                config = Config.from_toml(config)
            cls._dfk = DataFlowKernel(config)
            return cls._dfk

    @classmethod
    def wait_for_current_tasks(cls) -> None:
        cls.dfk().wait_for_current_tasks()

    @classmethod
    def dfk(cls) -> DataFlowKernel:
        dfk = cls._dfk
        if dfk is None:
            raise NoDataFlowKernelError("Must first load config")
        return dfk

