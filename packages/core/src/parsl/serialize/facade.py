"""Serialize task functions, arguments and results for executors that cross processes.

Wire format: every message is ``identifier + b"\\n" + body``, where ``identifier`` names
the serializer that wrote ``body`` (``01`` pickle, ``02`` dill, ``C2`` dill for
functions, or a plugin's). The receiver picks the serializer by that identifier, loading
installed serializer plugins if it does not know it yet, so only the sending side needs to
be configured.

A task message (:func:`pack_apply_message`) is one such message whose body encodes
``(function, args, kwargs, resource_specification)``. It is built with a single
``pickle.dumps`` (protocol 5) of the whole tuple. A function defined in ``__main__`` or
inside another function cannot be imported by reference on a worker, so it is first
serialized by value with the code serializers (dill, cached per function) and embedded
as bytes. Only if pickle fails on the whole payload is dill tried on it; if every
serializer fails, each piece is tried on its own to find the culprit, and
:class:`~parsl.serialize.errors.SerializationError` names the task, the app, the piece
(``positional argument 2``, ``keyword argument 'data'``, ``the result``) and its type.

Choosing a serializer: a serializer is a :class:`~parsl.serialize.base.SerializerBase`
registered in the ``parsl.serializers`` entry-point group (core registers ``pickle``,
``dill`` and ``dill_callable`` there). To make one the first choice for data, including
whole task messages, call::

    from parsl.serialize.facade import register_method_for_data
    register_method_for_data("my_serializer")       # a registry name, or an instance

:func:`register_method_for_code` does the same for functions sent by value, and
:func:`unregister_serializer` reverts either.
"""
from __future__ import annotations

import functools
import logging
import pickle
import sys
import threading
import types
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from parsl.executors.base import TaskContext, submitting_task
from parsl.serialize.base import SerializerBase
from parsl.serialize.concretes import DillCallableSerializer, DillSerializer, PickleSerializer
from parsl.serialize.errors import DeserializationError, SerializationError

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_BUFFER_THRESHOLD",
    "deserialize",
    "methods_for_code",
    "methods_for_data",
    "pack_apply_message",
    "pack_res_spec_apply_message",
    "register_method_for_code",
    "register_method_for_data",
    "serialize",
    "unpack_apply_message",
    "unpack_res_spec_apply_message",
    "unregister_serializer",
]

#: Messages larger than this are logged as a warning: they travel through every
#: queue between the submitting process and the worker in one piece.
DEFAULT_BUFFER_THRESHOLD = 128 * 2**20

_SEPARATOR = b"\n"
_MAX_IDENTIFIER = 16

#: Serializers tried in order for data and for whole task messages.
methods_for_data: List[SerializerBase] = [PickleSerializer(), DillSerializer()]
#: Serializers tried in order for functions that must travel by value.
methods_for_code: List[SerializerBase] = [DillCallableSerializer()]

_lock = threading.Lock()
_by_identifier: Dict[bytes, SerializerBase] = {
    m.identifier: m for m in (*methods_for_data, *methods_for_code)}
_plugins_loaded = False


class _Code(NamedTuple):
    """A function serialized by value, embedded in a task message.

    It travels as a plain ``(identifier, body)`` tuple: pickling a NamedTuple goes through
    Python-level reduce hooks and costs several times more than a tuple, on every task.
    A function is never a tuple, so a tuple in the function's place is unambiguous.
    """

    identifier: bytes
    body: bytes


def _resolve(method: Union[SerializerBase, str]) -> SerializerBase:
    if isinstance(method, SerializerBase):
        serializer = method
    else:
        from parsl.plugins import registry

        serializer = registry.load("serializer", method)()
    identifier = serializer.identifier
    if (not isinstance(identifier, bytes) or not identifier or _SEPARATOR in identifier
            or len(identifier) > _MAX_IDENTIFIER):
        raise ValueError(f"serializer {serializer!r}: identifier must be 1-{_MAX_IDENTIFIER} "
                         f"bytes without a newline, got {identifier!r}")
    return serializer


def _register(method: Union[SerializerBase, str], methods: List[SerializerBase]) -> None:
    serializer = _resolve(method)
    with _lock:
        known = _by_identifier.get(serializer.identifier)
        if known is not None and type(known) is not type(serializer):
            raise ValueError(f"serializer {serializer!r}: identifier {serializer.identifier!r} "
                             f"is already used by {known!r}")
        methods[:] = [serializer, *(m for m in methods if type(m) is not type(serializer))]
        _by_identifier[serializer.identifier] = serializer
    logger.info("serializer %r is now the first choice", serializer)


def register_method_for_data(method: Union[SerializerBase, str]) -> None:
    """Try ``method`` (an instance or a ``parsl.serializers`` registry name) first for data.

    This also applies to whole task messages. Objects it fails on fall back to the other
    serializers.
    """
    _register(method, methods_for_data)


def register_method_for_code(method: Union[SerializerBase, str]) -> None:
    """Try ``method`` first for functions that are sent by value."""
    _register(method, methods_for_code)


def unregister_serializer(method: Union[SerializerBase, str]) -> None:
    """Stop choosing ``method`` for sending; messages it wrote can still be read."""
    if isinstance(method, str):
        from parsl.plugins import registry

        cls = registry.load("serializer", method)
    else:
        cls = type(method)
    with _lock:
        methods_for_data[:] = [m for m in methods_for_data if type(m) is not cls]
        methods_for_code[:] = [m for m in methods_for_code if type(m) is not cls]


def _method_for(identifier: bytes) -> Optional[SerializerBase]:
    global _plugins_loaded
    method = _by_identifier.get(identifier)
    if method is not None or _plugins_loaded:
        return method
    from parsl.plugins import registry

    with _lock:
        for component in registry.components("serializer"):
            try:
                candidate = registry.load("serializer", component.name)()
            except Exception:
                logger.exception("serializer %s from %s could not be loaded",
                                 component.name, component.distribution)
                continue
            _by_identifier.setdefault(candidate.identifier, candidate)
        _plugins_loaded = True
    return _by_identifier.get(identifier)


def _needs_by_value(func: Any) -> bool:
    """Whether a worker could not import ``func`` by its module and qualified name."""
    while isinstance(func, functools.partial):
        func = func.func
    module = getattr(func, "__module__", None)
    if module is None:
        func_type = type(func)
        module = func_type.__module__
        qualname = func_type.__qualname__
    else:
        qualname = getattr(func, "__qualname__", "")
    if module == "__main__" or "<locals>" in qualname or "<lambda>" in qualname:
        return True
    # A module-level function decorated with @python_app has its name bound to the app, not
    # to itself, so pickle cannot send it by reference and the whole task would fall back
    # to dill on every submission; sent by value, its bytes are cached once.
    return isinstance(func, types.FunctionType) and not _bound_to_its_name(func, module,
                                                                          qualname)


def _bound_to_its_name(func: Any, module: str, qualname: str) -> bool:
    """Whether ``module.qualname`` is ``func`` itself in this process (an unloaded module
    is given the benefit of the doubt: pickle decides)."""
    target: Any = sys.modules.get(module)
    if target is None:
        return True
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            return False
    return target is func


def _serialize_code(func: Any) -> _Code:
    last: Optional[BaseException] = None
    for method in methods_for_code:
        try:
            return _Code(method.identifier, method.serialize(func))
        except Exception as e:
            last = e
    raise SerializationError("the function", type(func).__qualname__,
                             reason=f"{type(last).__name__}: {last}") from last


def _dumps(obj: Any) -> Tuple[Optional[bytes], Optional[BaseException]]:
    """``obj`` as a message from the first data serializer that succeeds, or the last error."""
    last: Optional[BaseException] = None
    for method in methods_for_data:
        try:
            body = method.serialize(obj)
        except Exception as e:
            last = e
            continue
        return method.identifier + _SEPARATOR + body, None
    return None, last


def _warn_if_large(message: bytes, threshold: int, what: str) -> None:
    if len(message) > threshold:
        logger.warning("serialized %s is %d bytes, more than the buffer threshold of %d "
                       "bytes; large messages slow every hop to the worker",
                       what, len(message), threshold)


def serialize(obj: Any, buffer_threshold: int = DEFAULT_BUFFER_THRESHOLD, *,
              task: Optional[TaskContext] = None, what: str = "the object") -> bytes:
    """Serialize ``obj`` with the first serializer that accepts it.

    ``task`` and ``what`` only shape the error: a worker serializing a result passes
    ``what="the result"`` and the task's context, so a failure reads "task 7 (app 'f',
    try 0): cannot serialize the result of type 'generator'".
    """
    if callable(obj) and _needs_by_value(obj):
        code = _serialize_code(obj)
        message = code.identifier + _SEPARATOR + code.body
    else:
        serialized, error = _dumps(obj)
        if serialized is None:
            raise SerializationError(what, type(obj).__qualname__, task,
                                     f"{type(error).__name__}: {error}") from error
        message = serialized
    _warn_if_large(message, buffer_threshold, what)
    return message


def _split(message: bytes, what: str,
           task: Optional[TaskContext]) -> Tuple[SerializerBase, memoryview]:
    view = memoryview(message)
    end = bytes(view[:_MAX_IDENTIFIER + 1]).find(_SEPARATOR)
    if end <= 0:
        raise DeserializationError(
            f"no serializer identifier at the start of the {len(message)}-byte message "
            f"(it begins {bytes(view[:_MAX_IDENTIFIER])!r}); it was not written by "
            "parsl.serialize or is truncated", what, task)
    identifier = bytes(view[:end])
    method = _method_for(identifier)
    if method is None:
        known = ", ".join(repr(i) for i in sorted(_by_identifier))
        raise DeserializationError(
            f"serializer identifier {identifier!r} is not provided by any installed "
            f"serializer (installed: {known}); install the plugin that wrote it", what, task)
    return method, view[end + 1:]


#: Most messages are plain pickles; recognising their prefix directly skips the general
#: identifier lookup, which costs several times the unpickling of a small result.
_PICKLE_PREFIX = PickleSerializer.identifier + _SEPARATOR
_PICKLE_PREFIX_LEN = len(_PICKLE_PREFIX)


def deserialize(data: bytes, *, task: Optional[TaskContext] = None,
                what: str = "the message") -> Any:
    """The object a message from :func:`serialize` encodes."""
    if data[:_PICKLE_PREFIX_LEN] == _PICKLE_PREFIX:
        try:
            return pickle.loads(memoryview(data)[_PICKLE_PREFIX_LEN:])
        except Exception as e:
            raise DeserializationError(f"{type(e).__name__}: {e}", what, task) from e
    method, body = _split(data, what, task)
    try:
        if isinstance(method, (PickleSerializer, DillSerializer)):
            return method.deserialize(body)  # type: ignore[arg-type]
        return method.deserialize(bytes(body))
    except Exception as e:
        raise DeserializationError(f"{type(e).__name__}: {e}", what, task) from e


def _diagnose(func: Any, args: Sequence[Any], kwargs: Dict[str, Any],
              resource_specification: Dict[str, Any], task: Optional[TaskContext],
              error: Optional[BaseException]) -> SerializationError:
    """Find the first piece of a task no serializer accepts, and describe it."""
    pieces: List[Tuple[str, Any]] = [("the function", func)]
    pieces += [(f"positional argument {i}", arg) for i, arg in enumerate(args)]
    pieces += [(f"keyword argument {name!r}", value) for name, value in kwargs.items()]
    pieces.append(("the resource specification", resource_specification))
    for what, obj in pieces:
        if isinstance(obj, tuple) and what == "the function":
            continue
        serialized, piece_error = _dumps(obj)
        if serialized is None:
            exc = SerializationError(what, type(obj).__qualname__, task,
                                     f"{type(piece_error).__name__}: {piece_error}")
            exc.__cause__ = piece_error
            return exc
    exc = SerializationError("the task message", "tuple", task,
                             f"{type(error).__name__}: {error}")
    exc.__cause__ = error
    return exc


def _pack(func: Any, args: Sequence[Any], kwargs: Dict[str, Any],
          resource_specification: Dict[str, Any], buffer_threshold: int,
          task: Optional[TaskContext]) -> bytes:
    if task is None:
        task = submitting_task.get()
    func_part: Any = func
    if _needs_by_value(func):
        try:
            func_part = tuple(_serialize_code(func))
        except SerializationError as e:
            e.task = task
            raise
    message, error = _dumps((func_part, args, kwargs, resource_specification))
    if message is None:
        raise _diagnose(func_part, args, kwargs, resource_specification, task, error)
    _warn_if_large(message, buffer_threshold, "task message")
    return message


def pack_apply_message(func: Any, args: Sequence[Any], kwargs: Dict[str, Any],
                       buffer_threshold: int = DEFAULT_BUFFER_THRESHOLD, *,
                       task: Optional[TaskContext] = None) -> bytes:
    """One message holding ``func``, ``args`` and ``kwargs`` for a worker to run.

    ``task`` names the task in errors; it defaults to the task the DFK is submitting
    (:data:`parsl.executors.base.submitting_task`).
    """
    return _pack(func, args, kwargs, {}, buffer_threshold, task)


def pack_res_spec_apply_message(func: Any, args: Sequence[Any], kwargs: Dict[str, Any],
                                resource_specification: Dict[str, Any],
                                buffer_threshold: int = DEFAULT_BUFFER_THRESHOLD, *,
                                task: Optional[TaskContext] = None) -> bytes:
    """Like :func:`pack_apply_message`, also carrying the task's resource specification."""
    return _pack(func, args, kwargs, resource_specification, buffer_threshold, task)


def _unpack(packed: bytes) -> Tuple[Any, Any, Any, Any]:
    payload = deserialize(packed, what="the task message")
    try:
        func_part, args, kwargs, resource_specification = payload
    except (TypeError, ValueError):
        raise DeserializationError(
            f"expected a task message (function, args, kwargs, resource specification), "
            f"got {type(payload).__qualname__}", "the task message") from None
    if isinstance(func_part, tuple):
        identifier, body = _Code(*func_part)
        method = _method_for(identifier)
        if method is None:
            raise DeserializationError(
                f"function serializer {identifier!r} is not installed", "the function")
        try:
            func_part = method.deserialize(body)
        except Exception as e:
            raise DeserializationError(f"{type(e).__name__}: {e}", "the function") from e
    return func_part, args, kwargs, resource_specification


def unpack_apply_message(packed: bytes) -> Tuple[Any, Any, Any]:
    """``(func, args, kwargs)`` from a message built by either pack function."""
    func, args, kwargs, _ = _unpack(packed)
    return func, args, kwargs


def unpack_res_spec_apply_message(packed: bytes) -> Tuple[Any, Any, Any, Dict[str, Any]]:
    """``(func, args, kwargs, resource_specification)`` from a packed task message."""
    return _unpack(packed)
