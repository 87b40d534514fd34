"""Parsl's memo keys, to reuse checkpoints real Parsl wrote (``<run>/checkpoint/tasks.pkl``).

So users can switch without losing a campaign: a checkpoint directory from Parsl can be
passed in ``checkpoint_files`` like one of ours (the file format is the same, see
:mod:`parsl.dataflow.checkpoint`). Parsl keys a record by the MD5 of its own
normalisation of the task (function name and module, arguments, keyword arguments),
which :func:`parsl_memo_keys` reproduces. Our own keys also cover the function's body,
so the two differ; the memoizer looks a task up under Parsl's keys only when records
written by Parsl were loaded.

Parsl's normalisation pickles values with the interpreter's default protocol (4 before
Python 3.14, 5 from 3.14), so a key is computed for each protocol a Parsl run may have
used.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import pickle
import types
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

if TYPE_CHECKING:
    from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger(__name__)

PROTOCOLS = (4, 5)


class _NoParslKey(Exception):
    """A value Parsl's memoizer refuses (so Parsl never checkpointed such a task)."""


def _normalise(obj: Any, protocol: int, output_ref: bool = False) -> bytes:
    """Parsl's ``id_for_memo`` for the types it supports out of the box."""
    if obj is None or isinstance(obj, (str, int, float)):
        return pickle.dumps(obj, protocol=protocol)
    kind = type(obj)
    if kind is list or kind is tuple:
        return pickle.dumps([_normalise(item, protocol, output_ref) for item in obj],
                            protocol=protocol)
    if kind is dict:
        parts: List[bytes] = []
        for key in sorted(obj):
            parts.append(_normalise(key, protocol))
            parts.append(_normalise(obj[key], protocol, output_ref))
        return pickle.dumps(parts, protocol=protocol)
    if isinstance(obj, types.FunctionType):
        return pickle.dumps(["types.FunctionType", obj.__name__, obj.__module__],
                            protocol=protocol)
    raise _NoParslKey(kind.__name__)


class _ParslFunctionIdentity:
    """What Parsl hashed for a task's function: its app's name and module (bash apps are
    a ``functools.partial`` in Parsl, whose module is ``functools``)."""

    def __init__(self, name: str, module: str) -> None:
        self.name = name
        self.module = module

    def normalise(self, protocol: int) -> bytes:
        return pickle.dumps(["types.FunctionType", self.name, self.module],
                            protocol=protocol)


def _function_and_kwargs(task: TaskRecord) -> tuple[_ParslFunctionIdentity, Dict[str, Any]]:
    from parsl.app.bash import remote_side_bash_executor

    func = task.func
    kwargs = dict(task.kwargs)
    if isinstance(func, functools.partial) and func.func is remote_side_bash_executor:
        user_func = func.args[0]
        # Parsl's bash apps put every parameter default into the task's kwargs.
        try:
            params = inspect.signature(user_func).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        defaults = {name: p.default for name, p in params.items()
                    if p.default is not inspect.Parameter.empty}
        kwargs = {**defaults, **kwargs}
        return _ParslFunctionIdentity(getattr(user_func, "__name__", task.func_name),
                                      "functools"), kwargs
    func = inspect.unwrap(func)
    return _ParslFunctionIdentity(getattr(func, "__name__", task.func_name),
                                  getattr(func, "__module__", "") or ""), kwargs


def parsl_memo_keys(task: TaskRecord) -> Sequence[str]:
    """The keys Parsl would have checkpointed ``task`` under (one per pickle protocol),
    or none when Parsl could not have memoized it."""
    try:
        identity, kwargs = _function_and_kwargs(task)
        for name in task.ignore_for_cache:
            kwargs.pop(name, None)
        outputs = kwargs.pop("outputs", None) if "outputs" in task.kwargs else None
        keys = []
        for protocol in PROTOCOLS:
            parts: List[bytes] = []
            if "outputs" in task.kwargs:
                parts.append(_normalise(outputs, protocol, output_ref=True))
            parts.append(_normalise(kwargs, protocol))
            parts.append(identity.normalise(protocol))
            parts.append(_normalise(tuple(task.args), protocol))
            keys.append(hashlib.md5(b"".join(parts)).hexdigest())
        return keys
    except _NoParslKey:
        return ()


def parsl_memo_key(task: TaskRecord, protocol: Optional[int] = None) -> Optional[str]:
    """Parsl's memo key of ``task`` for one pickle protocol (default: this interpreter's)."""
    keys = parsl_memo_keys(task)
    if not keys:
        return None
    wanted = pickle.DEFAULT_PROTOCOL if protocol is None else protocol
    return keys[PROTOCOLS.index(wanted)] if wanted in PROTOCOLS else None
