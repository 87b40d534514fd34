"""Reading checkpoints written by real Parsl (``<run>/checkpoint/tasks.pkl``).

So users can switch without losing a campaign: a checkpoint directory from Parsl can be
passed in ``checkpoint_files`` like one of ours. Parsl's file is a sequence of pickled
dicts ``{'hash': key, 'exception': None, 'result': value}`` appended one per task; its
key is the MD5 of Parsl's own normalisation of the task (function name and module,
arguments, keyword arguments), which :func:`parsl_memo_key` reproduces. Our own keys also
cover the function's body, so the two cannot be the same; the memoizer looks a task up
under Parsl's key only when Parsl checkpoints were loaded.

Parsl's normalisation pickles values with the interpreter's default protocol (4 before
Python 3.14, 5 from 3.14), so a key is computed for each protocol a Parsl run may have
used.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import pickle
import types
import warnings
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence

if TYPE_CHECKING:
    from parsl.dataflow.taskrecord import TaskRecord

logger = logging.getLogger(__name__)

FILE_NAME = "tasks.pkl"
PROTOCOLS = (4, 5)


class _NoParslKey(Exception):
    """A value Parsl's memoizer refuses (so Parsl never checkpointed such a task)."""


def load_parsl_checkpoints(paths: Iterable[str]) -> Dict[str, Any]:
    """Parsl key -> result for every ``tasks.pkl`` found in the checkpoint ``paths``.

    A file cut short by a killed Parsl run keeps every record before the damage, with a
    warning naming the file.
    """
    table: Dict[str, Any] = {}
    for given in paths:
        path = os.fspath(given)
        file_path = os.path.join(path, FILE_NAME) if os.path.isdir(path) else path
        if not os.path.isfile(file_path) or os.path.basename(file_path) != FILE_NAME:
            continue
        count = 0
        with open(file_path, "rb") as f:
            while True:
                try:
                    record = pickle.load(f)
                except EOFError:
                    break
                except Exception as e:
                    message = (f"Parsl checkpoint {file_path} is damaged after {count} "
                               f"records ({type(e).__name__}: {e}); the records before it "
                               "were loaded")
                    logger.warning("%s", message)
                    warnings.warn(message, stacklevel=2)
                    break
                if isinstance(record, dict) and record.get("exception") is None \
                        and isinstance(record.get("hash"), str):
                    table[record["hash"]] = record.get("result")
                    count += 1
        logger.info("Loaded %d checkpointed results written by Parsl from %s", count,
                    file_path)
    return table


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
