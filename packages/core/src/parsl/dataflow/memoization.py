"""App caching and checkpointing: a task whose app and arguments were seen before, in this
run or in a checkpointed earlier one, reuses the earlier result instead of running.

The memo key of a task is a hash of the app's identity (its qualified name and a hash of
its source, or bytecode when the source is unavailable, so editing the body makes a new
app) and of its arguments as computed by :func:`id_for_memo`. ``id_for_memo`` knows the
builtin types and parsl Files; register new types with ``@id_for_memo.register(MyType)``
or with the ``parsl_memo_key`` plugin hook.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import pickle
import re
import threading
import types
from concurrent.futures import Future
from functools import singledispatch
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Literal,
    NamedTuple,
    Optional,
    Sequence,
    Set,
)

from parsl._validation import validate_init
from parsl.data_provider.files import File
from parsl.dataflow.checkpoint import CheckpointWriter, RecordEncoder, load_checkpoint_tables
from parsl.dataflow.leanfuture import LeanFuture
from parsl.dataflow.parsl_checkpoints import parsl_memo_keys
from parsl.errors import BadParameter, ConfigurationError
from parsl.utils import Timer

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger(__name__)

#: Keyword arguments that steer where and how long a task runs, not what it computes.
#: ``stdout``/``stderr`` are part of the key (a hit would not write the new file); list
#: them in ``ignore_for_cache`` to reuse results across different log paths.
SPECIAL_KWARGS = frozenset({"walltime", "parsl_resource_specification"})

CheckpointMode = Literal["task_exit", "periodic", "dfk_exit", "manual"]
_PERIOD = re.compile(r"^\d+:[0-5]?\d:[0-5]?\d$")


class UnhashableArgument(ConfigurationError, ValueError, TypeError):
    """An argument of a cached app has a type the memoizer cannot identify.

    A ValueError, as Parsl documents for ``id_for_memo``; also a TypeError for code
    written against earlier versions of this project.
    """

    def __init__(self, obj: Any) -> None:
        self.type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        super().__init__(
            f"unknown type for memoization: {self.type_name} (id_for_memo cannot compute a "
            "memo key for it); register "
            f"one with @parsl.dataflow.memoization.id_for_memo.register({type(obj).__name__})"
            " returning bytes, implement the parsl_memo_key plugin hook, or exclude the "
            "argument with ignore_for_cache=[...]")


_plugin_hook: Optional[Callable[..., Any]] = None


@singledispatch
def id_for_memo(obj: Any, output_ref: bool = False) -> bytes:
    """Bytes that identify ``obj`` for memoization, stable across runs."""
    if _plugin_hook is not None:
        result = _plugin_hook(obj=obj, output_ref=output_ref)
        if result is not None:
            return bytes(result)
    raise UnhashableArgument(obj)


@id_for_memo.register(str)
@id_for_memo.register(int)
@id_for_memo.register(float)
@id_for_memo.register(complex)
@id_for_memo.register(bool)
@id_for_memo.register(bytes)
@id_for_memo.register(type(None))
def _id_for_plain(obj: Any, output_ref: bool = False) -> bytes:
    return pickle.dumps(obj, protocol=4)


@id_for_memo.register(list)
@id_for_memo.register(tuple)
def _id_for_sequence(obj: Sequence[Any], output_ref: bool = False) -> bytes:
    parts = [type(obj).__name__.encode()]
    parts.extend(id_for_memo(item, output_ref=output_ref) for item in obj)
    return pickle.dumps(parts, protocol=4)


@id_for_memo.register(set)
@id_for_memo.register(frozenset)
def _id_for_set(obj: Any, output_ref: bool = False) -> bytes:
    items = sorted(id_for_memo(item, output_ref=output_ref) for item in obj)
    return pickle.dumps([type(obj).__name__.encode(), *items], protocol=4)


@id_for_memo.register(dict)
def _id_for_dict(obj: Dict[Any, Any], output_ref: bool = False) -> bytes:
    items = sorted((id_for_memo(k), id_for_memo(v, output_ref=output_ref))
                   for k, v in obj.items())
    return pickle.dumps(items, protocol=4)


@id_for_memo.register(File)
def _id_for_file(obj: File, output_ref: bool = False) -> bytes:
    return pickle.dumps(("parsl.File", obj.url), protocol=4)


@id_for_memo.register(types.FunctionType)
def _id_for_function(obj: Callable[..., Any], output_ref: bool = False) -> bytes:
    return function_identity(obj).encode()


@id_for_memo.register(functools.partial)
def _id_for_partial(obj: functools.partial, output_ref: bool = False) -> bytes:  # type: ignore[type-arg]
    return pickle.dumps((id_for_memo(obj.func), id_for_memo(obj.args),
                         id_for_memo(obj.keywords)), protocol=4)


def function_identity(func: Callable[..., Any]) -> str:
    """Qualified name plus a hash of the source (or bytecode): a changed body differs."""
    target = inspect.unwrap(func) if callable(func) else func
    if isinstance(target, functools.partial):
        return hashlib.sha256(_id_for_partial(target)).hexdigest()
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    try:
        body = inspect.getsource(target).encode()
    except (OSError, TypeError):
        call = type(target).__call__ if not inspect.isroutine(target) else None
        code = getattr(target, "__code__", None) or getattr(call, "__code__", None)
        body = code.co_code + repr(code.co_consts).encode() if code is not None else b""
    return f"{module}.{name}:{hashlib.sha256(body).hexdigest()}"


def make_hash(task: TaskRecord) -> str:
    """The memo key of ``task``: its function's identity and its resolved arguments.

    Arguments named in the app's ``ignore_for_cache`` and the keyword arguments that only
    steer execution (``walltime``, ``parsl_resource_specification``) are left out;
    ``outputs`` are identified as output references.
    """
    kwargs = task.kwargs
    ignore = task.ignore_for_cache
    parts: List[bytes] = [(task.fn_hash or function_identity(task.func)).encode()]
    parts.append(id_for_memo(list(task.args)))
    for key in sorted(kwargs):
        if key in SPECIAL_KWARGS or key in ignore:
            continue
        parts.append(key.encode())
        parts.append(id_for_memo(kwargs[key], output_ref=(key == "outputs")))
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


#: Parsl's names for the built-in ``id_for_memo`` implementations.
id_for_memo_pickle = _id_for_plain
id_for_memo_list = _id_for_sequence
id_for_memo_tuple = _id_for_sequence
id_for_memo_dict = _id_for_dict
id_for_memo_function = _id_for_function


class CheckpointCommand:
    """One task outcome to checkpoint, as Parsl's memoizer queues them: the task record
    and either its result or its exception."""

    def __init__(self, task_record: TaskRecord, *, result: Optional[object] = None,
                 exception: Optional[BaseException] = None) -> None:
        self._task_record = task_record
        self._result = result
        self._exception = exception

    @property
    def task_record(self) -> TaskRecord:
        return self._task_record

    @property
    def result(self) -> Optional[object]:
        return self._result

    @property
    def exception(self) -> Optional[BaseException]:
        return self._exception


class _MemoizedException:
    """A memo table entry for a task that failed: identical calls in the same run fail
    with the same exception, as in Parsl. Never written to checkpoints."""

    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception


def _completed_future(value: Any) -> Future[Any]:
    future: Future[Any] = LeanFuture()
    if isinstance(value, _MemoizedException):
        future.set_exception(value.exception)
    else:
        future.set_result(value)
    return future


class Memoizer:
    """What the DFK asks of a memo table (``Config(memoizer=...)``), as in Parsl.

    For every task of an app with ``cache=True`` (when ``Config.app_cache`` is on) the DFK
    calls :meth:`check_memo` once its arguments are resolved; a returned Future stands in
    for running the task. When the task ends it calls :meth:`update_memo_result` or
    :meth:`update_memo_exception`. :meth:`start` runs once before the first task and
    :meth:`close` at cleanup. A subclass written against Parsl's ``Memoizer`` plugs in
    unchanged.

    Two optional extensions used by :class:`BasicMemoizer`: :meth:`bind_dfk` (called
    before :meth:`start` with the DFK and whether app caching is on) and :meth:`persist`
    (make a result durable before the task's future completes).
    """

    #: Whether the DFK should treat ``cache=True`` apps as memoizable at all.
    enabled: bool = True

    def bind_dfk(self, dfk: DataFlowKernel, memoize: bool) -> None:
        """Called by the DFK before :meth:`start`; ``memoize`` is ``Config.app_cache``."""
        self.enabled = memoize

    def start(self, *, run_dir: str, config_run_dir: str) -> None:
        """Called once by the DFK before the first task: this run's directory
        (``runinfo/NNN``) and the configured base (``Config.run_dir``)."""

    def check_memo(self, task: TaskRecord) -> Optional[Future[Any]]:
        """A completed Future holding the stored outcome of an identical task, or None."""
        return None

    def update_memo_result(self, task: TaskRecord, r: Any) -> None:
        """Record the result of a task that completed successfully."""

    def update_memo_exception(self, task: TaskRecord, e: BaseException) -> None:
        """Record the exception of a task that failed after its last try."""

    def persist(self, task: TaskRecord, result: Any, publish: Callable[[], None]) -> None:
        """Make ``result`` durable as configured, then call ``publish`` exactly once.

        ``publish`` completes the task's future. A memoizer that checkpoints on task exit
        calls it only after the result is written to its checkpoint, so the result of a
        future that completed is never lost when the process is killed; it may call it from
        another thread. The default publishes at once.
        """
        publish()

    def checkpoint(self, tasks: Optional[Sequence[TaskRecord]] = None) -> str:
        """Persist the memo table; return where."""
        raise ConfigurationError(f"{type(self).__name__} does not support checkpointing")

    def close(self) -> None:
        """Called once by the DFK at cleanup."""


def _parse_period(period: str) -> int:
    hours, minutes, seconds = (int(part) for part in period.split(":"))
    return hours * 3600 + minutes * 60 + seconds


class _Pending(NamedTuple):
    key: str
    result: Any
    task_id: int
    func_name: str


class BasicMemoizer(Memoizer):
    """Parsl's default memoizer: an in-memory memo table, optionally checkpointed to disk.

    Parameters are those of current Parsl's ``BasicMemoizer`` (and of the 1.3 ``Config``):

    checkpoint_files
        Checkpoint directories (or files) of earlier runs whose results are loaded into the
        memo table; see :func:`parsl.utils.get_all_checkpoints`. Left as None with a
        ``checkpoint_mode``, every checkpoint under the configured ``run_dir`` is loaded,
        as Parsl does (pass ``[]`` to start afresh).
    checkpoint_mode
        When results are written to ``runinfo/NNN/checkpoint/``: ``"task_exit"`` (each
        result is in the checkpoint file before its future completes), ``"periodic"`` (every
        ``checkpoint_period``), ``"dfk_exit"`` (at cleanup) or ``"manual"`` (when
        ``dfk.checkpoint()`` is called). Every mode also writes what is left at cleanup.
        None disables checkpointing.
    checkpoint_period
        ``"HH:MM:SS"`` between periodic checkpoints (``periodic`` mode only).
    memoize
        False turns app caching off even for apps with ``cache=True``.
    """

    #: In ``task_exit`` mode, the longest time (seconds) a written record waits for its
    #: fsync. A future completes only after its record is written to the file, so results
    #: survive the process being killed at any moment; an operating system crash or power
    #: loss can lose at most this much of the latest results. 0 fsyncs every record
    #: before its future completes (strict, but an fsync per task).
    sync_interval = 0.1

    @validate_init
    def __init__(self, *, checkpoint_files: Optional[Sequence[str]] = None,
                 checkpoint_period: Optional[str] = None,
                 checkpoint_mode: Optional[CheckpointMode] = None,
                 memoize: bool = True) -> None:
        if checkpoint_period is not None:
            if not _PERIOD.match(checkpoint_period):
                raise BadParameter("BasicMemoizer", "checkpoint_period", checkpoint_period,
                                   "a string 'HH:MM:SS'")
            if checkpoint_mode != "periodic":
                raise BadParameter("BasicMemoizer", "checkpoint_period", checkpoint_period,
                                   "None unless checkpoint_mode is 'periodic' "
                                   f"(checkpoint_mode is {checkpoint_mode!r})")
            if _parse_period(checkpoint_period) == 0:
                raise BadParameter("BasicMemoizer", "checkpoint_period", checkpoint_period,
                                   "a period longer than 00:00:00")
        elif checkpoint_mode == "periodic":
            raise BadParameter("BasicMemoizer", "checkpoint_period", checkpoint_period,
                               "a string 'HH:MM:SS' when checkpoint_mode is 'periodic'")
        if isinstance(checkpoint_files, str):
            raise BadParameter("BasicMemoizer", "checkpoint_files", checkpoint_files,
                               "a list of checkpoint directories, such as "
                               "parsl.utils.get_all_checkpoints()")
        self.checkpoint_files = list(checkpoint_files) if checkpoint_files else []
        self._checkpoint_files_given = checkpoint_files is not None
        self.checkpoint_period = checkpoint_period
        self.checkpoint_mode = checkpoint_mode
        self.memoize = memoize
        self.memo_table: Dict[str, Any] = {}
        #: Results loaded from checkpoints real Parsl wrote, under Parsl's memo keys.
        self.parsl_memo_table: Dict[str, Any] = {}
        self.checkpointed_tasks = 0
        self.enabled = memoize
        self.run_dir = ""
        self.checkpoint_dir = ""
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: List[_Pending] = []
        self._writer: Optional[CheckpointWriter] = None
        self._encoder: Optional[RecordEncoder] = None
        self._syncer: Optional[Timer] = None
        self._dirty = False
        self._timer: Optional[Timer] = None
        self._unserializable_apps: Set[str] = set()

    def bind_dfk(self, dfk: DataFlowKernel, memoize: bool) -> None:
        global _plugin_hook
        self.enabled = memoize and self.memoize
        hook = dfk.plugin_manager.hook.parsl_memo_key
        _plugin_hook = hook if hook.get_hookimpls() else None

    def start(self, *, run_dir: str, config_run_dir: str = "runinfo") -> None:
        self.run_dir = run_dir
        self.config_run_dir = config_run_dir
        self.checkpoint_dir = os.path.join(run_dir, "checkpoint")
        if not self._checkpoint_files_given and self.checkpoint_mode is not None:
            # As Parsl's BasicMemoizer: checkpointing with no checkpoint_files resumes
            # from every earlier run under the configured run_dir.
            from parsl.utils import get_all_checkpoints

            self.checkpoint_files = get_all_checkpoints(config_run_dir)
        if self.checkpoint_files:
            if self.enabled:
                ours, parsls = load_checkpoint_tables(self.checkpoint_files)
                self.memo_table.update(ours)
                self.parsl_memo_table = parsls
            else:
                logger.warning("checkpoint_files given but app caching is disabled "
                               "(app_cache=False or memoize=False): not loading them")
        if self.checkpoint_mode is not None:
            self._writer = CheckpointWriter(self.checkpoint_dir)
            self._encoder = RecordEncoder()
            # The folder exists from the start, so checkpoint_files=[this run's folder]
            # is valid for a later run even if no result was checkpointed.
            os.makedirs(self.checkpoint_dir, exist_ok=True)
            if not self.enabled:
                logger.warning("checkpoint_mode %r has no effect with app caching disabled",
                               self.checkpoint_mode)
        if self.checkpoint_mode == "task_exit" and self.sync_interval > 0:
            self._syncer = Timer(self._sync, interval=self.sync_interval,
                                 name="checkpoint-fsync")
        elif self.checkpoint_mode == "periodic":
            assert self.checkpoint_period is not None
            self._timer = Timer(self.checkpoint, interval=_parse_period(self.checkpoint_period),
                                name="periodic-checkpoint")
        logger.info("App caching %s; %d results loaded from checkpoints; checkpoint mode %s",
                    "enabled" if self.enabled else "disabled", len(self.memo_table),
                    self.checkpoint_mode)

    def make_hash(self, task: TaskRecord) -> str:
        """The memo key of ``task`` (see :func:`make_hash`)."""
        return make_hash(task)

    def check_memo(self, task: TaskRecord) -> Optional[Future[Any]]:
        # No lock: entries are only ever added, and a dict lookup or store is atomic
        # under the GIL; a lock here is contended by every completing thread.
        key = task.hashsum = self.make_hash(task)
        try:
            value = self.memo_table[key]
        except KeyError:
            if not self.parsl_memo_table:
                return None
            for parsl_key in parsl_memo_keys(task):
                if parsl_key in self.parsl_memo_table:
                    value = self.memo_table[key] = self.parsl_memo_table[parsl_key]
                    break
            else:
                return None
        return _completed_future(value)

    def update_memo_result(self, task: TaskRecord, r: Any) -> None:
        if task.hashsum is not None:
            self.memo_table[task.hashsum] = r

    def update_memo_exception(self, task: TaskRecord, e: BaseException) -> None:
        if task.hashsum is not None:
            self.memo_table[task.hashsum] = _MemoizedException(e)

    def persist(self, task: TaskRecord, result: Any, publish: Callable[[], None]) -> None:
        mode = self.checkpoint_mode
        if mode is None or task.hashsum is None:
            publish()
            return
        item = _Pending(task.hashsum, result, task.id, task.func_name)
        if mode == "task_exit":
            try:
                self._write([item], sync=self.sync_interval <= 0)
            except Exception:
                logger.exception("Task %s: could not write its result to the checkpoint; a "
                                 "restart will run it again", task.id,
                                 extra={"task_id": task.id})
        else:
            with self._lock:
                self._pending.append(item)
        publish()

    def _sync(self) -> None:
        """fsync the task_exit checkpoint if records were written since the last fsync."""
        if not self._dirty:
            return
        self._dirty = False
        if self._writer is not None:
            self._writer.sync()

    def checkpoint(self, tasks: Optional[Sequence[TaskRecord]] = None) -> str:
        """Write results not yet on disk to ``runinfo/NNN/checkpoint/`` and return that
        directory (for ``dfk.checkpoint()`` and the periodic timer).

        With ``tasks``, write the memoized results of those task records instead. With no
        checkpoint mode configured, write the whole memo table.
        """
        if tasks is not None:
            items = self._items_for(tasks)
        elif self.checkpoint_mode == "task_exit":
            self._dirty = False
            if self._writer is not None:
                self._writer.sync()
            return self.checkpoint_dir
        elif self.checkpoint_mode is None:
            with self._lock:
                items = [_Pending(key, value, -1, "") for key, value in self.memo_table.items()
                         if not isinstance(value, _MemoizedException)]
        else:
            with self._lock:
                items, self._pending = self._pending, []
        self._write(items)
        return self.checkpoint_dir

    def _items_for(self, tasks: Sequence[TaskRecord]) -> List[_Pending]:
        items = []
        with self._lock:
            for task in tasks:
                key = task.hashsum
                if key is not None and key in self.memo_table and not isinstance(
                        self.memo_table[key], _MemoizedException):
                    items.append(_Pending(key, self.memo_table[key], task.id, task.func_name))
        return items

    def _write(self, items: List[_Pending], sync: bool = True) -> None:
        """Encode ``items`` and append them (and fsync, with ``sync``); a result that
        cannot be serialized is left out with a warning (once per app) instead of failing
        the others."""
        if self._writer is None:
            with self._write_lock:  # the periodic timer and close() may both get here
                if self._writer is None:
                    self._encoder = RecordEncoder()
                    self._writer = CheckpointWriter(self.checkpoint_dir)
        assert self._encoder is not None
        records = []
        for item in items:
            try:
                records.append(self._encoder.encode(item.key, item.result))
            except Exception as e:
                level = logging.DEBUG if item.func_name in self._unserializable_apps \
                    else logging.WARNING
                self._unserializable_apps.add(item.func_name)
                logger.log(level, "Task %s (app %s): result of type %s cannot be "
                           "checkpointed (%s: %s); a restart will run it again", item.task_id,
                           item.func_name, type(item.result).__name__, type(e).__name__, e,
                           extra={"task_id": item.task_id})
        if not records and self.checkpointed_tasks:
            logger.info("No tasks checkpointed in this pass.")
            return
        self._writer.append(records, sync=sync)
        if not sync:
            # task_exit: one record per task, so no log line per record (Parsl logs
            # each at INFO; here the total is logged when the checkpoint is closed).
            self._dirty = True
            return
        with self._write_lock:
            self.checkpointed_tasks += len(records)
        if records:
            if self.checkpoint_mode == "task_exit":
                logger.debug("Done checkpointing %d tasks to %s", len(records),
                             self._writer.path)
            else:
                logger.info("Done checkpointing %d tasks to %s", len(records),
                            self._writer.path)
        else:
            logger.warning("No tasks checkpointed so far in this run. Please ensure caching "
                           "is enabled (cache=True on the app and app_cache in the config)")

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.close()
        if self.checkpoint_mode is not None:
            logger.info("Writing the final checkpoint")
            self.checkpoint()
        if self._timer is not None:
            # Stopped after the final checkpoint, as in Parsl, and a periodic pass that
            # fell due as the run ended still runs (and logs) rather than being cancelled.
            self._timer.close(run_due=True)
        if self._writer is not None:
            size = self._writer.size
            self._writer.close()
            logger.info("Checkpoint %s closed: %d bytes%s", self._writer.path, size,
                        "" if self.checkpoint_mode == "task_exit" else
                        f", {self.checkpointed_tasks} task results")
