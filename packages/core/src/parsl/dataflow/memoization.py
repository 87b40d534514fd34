"""App caching: a task whose app and arguments were seen before reuses the earlier result.

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
import pickle
import threading
import types
from functools import singledispatch
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from parsl.data_provider.files import File
from parsl.errors import ConfigurationError

if TYPE_CHECKING:
    from parsl.dataflow.dflow import DataFlowKernel
    from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger(__name__)

#: Keyword arguments that steer Parsl rather than the app's computation.
SPECIAL_KWARGS = frozenset({"stdout", "stderr", "walltime", "parsl_resource_specification"})


class UnhashableArgument(ConfigurationError, TypeError):
    """An argument of a cached app has a type the memoizer cannot identify."""

    def __init__(self, obj: Any) -> None:
        self.type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        super().__init__(
            f"cannot compute a memo key for an argument of type {self.type_name}; register "
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
        code = getattr(target, "__code__", None) or getattr(
            getattr(target, "__call__", None), "__code__", None)
        body = code.co_code + repr(code.co_consts).encode() if code is not None else b""
    return f"{module}.{name}:{hashlib.sha256(body).hexdigest()}"


class Memoizer:
    """Interface of the memo table used by the DFK (``Config(memoizer=...)``)."""

    enabled: bool = False

    def start(self, *, dfk: "DataFlowKernel", memoize: bool, run_dir: str) -> None:
        """Called once by the DFK before the first task."""

    def check_memo(self, task: "TaskRecord") -> Tuple[bool, Any]:
        """Return (True, result) for a memo hit, (False, None) otherwise."""
        return False, None

    def update_memo(self, task: "TaskRecord", result: Any) -> None:
        """Record the result of a task that completed successfully."""

    def checkpoint(self, tasks: Optional[Sequence["TaskRecord"]] = None) -> str:
        """Persist the memo table; return where."""
        raise ConfigurationError(f"{type(self).__name__} does not support checkpointing")

    def close(self) -> None:
        """Called once by the DFK at cleanup."""


class BasicMemoizer(Memoizer):
    """In-memory memo table keyed by task hash, as Parsl's default memoizer."""

    def __init__(self, *, checkpoint_files: Optional[Sequence[str]] = None,
                 checkpoint_period: Optional[str] = None,
                 checkpoint_mode: Optional[str] = None, memoize: bool = True) -> None:
        self.checkpoint_files = list(checkpoint_files) if checkpoint_files else []
        self.checkpoint_period = checkpoint_period
        self.checkpoint_mode = checkpoint_mode
        self.memoize = memoize
        self.memo_table: Dict[str, Any] = {}
        self._lock = threading.Lock()
        self.enabled = memoize
        if checkpoint_mode is not None or self.checkpoint_files:
            raise ConfigurationError(
                "checkpointing is not available in this version of parsl-core yet; "
                "remove checkpoint_mode/checkpoint_files from the Config")

    def start(self, *, dfk: "DataFlowKernel", memoize: bool, run_dir: str) -> None:
        global _plugin_hook
        self.enabled = memoize and self.memoize
        self.run_dir = run_dir
        hook = dfk.plugin_manager.hook.parsl_memo_key
        _plugin_hook = hook if hook.get_hookimpls() else None
        logger.info("App caching %s", "enabled" if self.enabled else "disabled")

    def make_hash(self, task: "TaskRecord") -> str:
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

    def check_memo(self, task: "TaskRecord") -> Tuple[bool, Any]:
        task.hashsum = self.make_hash(task)
        with self._lock:
            if task.hashsum in self.memo_table:
                return True, self.memo_table[task.hashsum]
        return False, None

    def update_memo(self, task: "TaskRecord", result: Any) -> None:
        if task.hashsum is None:
            return
        with self._lock:
            self.memo_table[task.hashsum] = result
