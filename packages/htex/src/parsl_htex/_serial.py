"""How tasks and results are turned into bytes on their way through the executor.

Everything goes through core's :mod:`parsl.serialize` facade, so serializer plugins
(``parsl.serializers`` entry points, ``register_method_for_data``) apply to HTEX as to every
other executor, and errors are core's :class:`~parsl.serialize.errors.SerializationError`
naming the task, the app and the piece that failed. The facade already makes the hot path
cheap: one ``pickle.dumps`` of the whole task, with functions that cannot travel by
reference (defined in ``__main__``, closures, lambdas) serialized by value once per function
and rebuilt once per worker.

This module adds what is HTEX's own: the result tag sent beside each result payload (see
:data:`RESULT_OK`), and :class:`_RemoteError`, which carries a task's exception with its
remote traceback text even when the exception cannot be re-created on the submit side.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from parsl.executors.base import TaskContext
from parsl.serialize.errors import DeserializationError, SerializationError
from parsl.serialize.facade import deserialize as _core_deserialize
from parsl.serialize.facade import pack_res_spec_apply_message, unpack_res_spec_apply_message
from parsl.serialize.facade import serialize as _core_serialize

logger = logging.getLogger(__name__)

__all__ = [
    "RESULT_EXECUTOR_ERROR",
    "RESULT_OK",
    "RESULT_TASK_ERROR",
    "deserialize",
    "pack_apply_message",
    "result_to_outcome",
    "serialize",
    "serialize_exception",
    "serialize_result",
    "unpack_apply_message",
]

#: Payload is the serialized return value.
RESULT_OK = 0
#: Payload is a serialized :class:`_RemoteError` raised by the task.
RESULT_TASK_ERROR = 1
#: Payload is a serialized exception raised by the executor itself (WorkerLost, ManagerLost...).
RESULT_EXECUTOR_ERROR = 2


def serialize(obj: Any) -> bytes:
    """Serialize ``obj`` with core's serializers; raises SerializationError if none can."""
    return _core_serialize(obj)


def deserialize(data: Any) -> Any:
    """Inverse of :func:`serialize` (accepts bytes, memoryview or a zmq frame buffer)."""
    return _core_deserialize(data)


def pack_apply_message(func: Callable[..., Any], args: Sequence[Any], kwargs: Dict[str, Any],
                       resource_specification: Optional[Dict[str, Any]] = None,
                       *, task: Optional[TaskContext] = None) -> bytes:
    """Serialize one task invocation; raises SerializationError naming what failed.

    ``task`` names the task in error messages; without it core uses the task the DFK is
    submitting, if any.
    """
    return pack_res_spec_apply_message(func, args, kwargs, resource_specification or {},
                                       task=task)


def unpack_apply_message(data: Any) -> Tuple[Callable[..., Any], Tuple[Any, ...],
                                            Dict[str, Any], Optional[Dict[str, Any]]]:
    """Inverse of :func:`pack_apply_message`; an empty resource specification is None.

    Returning None for "no specification" lets the worker skip per-task MPI setup with a
    single truth test.
    """
    func, args, kwargs, spec = unpack_res_spec_apply_message(data)
    return func, args, kwargs, spec or None


class _RemoteError:
    """An exception raised by a task, with its remote traceback text, ready to pickle.

    The exception itself is kept serialized separately so a type that cannot be re-created
    on the submit side still yields its type name, message and traceback.
    """

    __slots__ = ("exc_bytes", "message", "traceback_text", "type_name")

    def __init__(self, type_name: str, message: str, traceback_text: str,
                 exc_bytes: Optional[bytes]) -> None:
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text
        self.exc_bytes = exc_bytes

    def __getstate__(self) -> Tuple[str, str, str, Optional[bytes]]:
        return (self.type_name, self.message, self.traceback_text, self.exc_bytes)

    def __setstate__(self, state: Tuple[str, str, str, Optional[bytes]]) -> None:
        self.type_name, self.message, self.traceback_text, self.exc_bytes = state

    def to_exception(self) -> BaseException:
        from parsl_htex.errors import RemoteTaskError

        exc: Optional[BaseException] = None
        if self.exc_bytes is not None:
            try:
                exc = _core_deserialize(self.exc_bytes)
            except Exception as e:
                logger.warning("Cannot re-create remote exception %s on the submit side "
                               "(%s: %s); raising RemoteTaskError with its text", self.type_name,
                               type(e).__name__, e)
        if not isinstance(exc, BaseException):
            return RemoteTaskError(self.type_name, self.message, self.traceback_text)
        try:
            exc.__parsl_remote_traceback__ = self.traceback_text  # type: ignore[attr-defined]
        except AttributeError:
            logger.debug("cannot attach the remote traceback to %s", self.type_name)
        return exc


def serialize_exception(exc: BaseException) -> bytes:
    """Serialize a task's exception with its traceback text (never raises)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        exc_bytes: Optional[bytes] = _core_serialize(exc, what="the exception")
    except Exception as e:
        logger.warning("The task's %s cannot be serialized (%s); sending its text only",
                       type(exc).__name__, e)
        exc_bytes = None
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    try:
        message = str(exc)
    except Exception as e:
        message = f"{type(exc).__qualname__} (str() failed: {type(e).__name__})"
    return _core_serialize(_RemoteError(name, message, text, exc_bytes))


def serialize_result(value: Any) -> Tuple[int, bytes]:
    """Serialize a task's return value as ``(tag, payload)``.

    A value that cannot be serialized turns into a SerializationError for its own task
    (naming ``the result`` and its type) instead of breaking the worker.
    """
    try:
        return RESULT_OK, _core_serialize(value, what="the result")
    except SerializationError as e:
        return RESULT_TASK_ERROR, serialize_exception(e)


def result_to_outcome(tag: int, payload: Any) -> Tuple[bool, Any]:
    """Decode a result frame into ``(ok, value_or_exception)`` on the submit side.

    Never raises: a payload that cannot be decoded becomes the task's DeserializationError.
    """
    try:
        obj = _core_deserialize(payload)
    except DeserializationError as e:
        what = "the result" if tag == RESULT_OK else "the task's exception"
        e.what = what
        return False, e
    if tag == RESULT_OK:
        return True, obj
    if isinstance(obj, _RemoteError):
        return False, obj.to_exception()
    if isinstance(obj, BaseException):
        return False, obj
    return False, DeserializationError(f"result frame with tag {tag} held a "
                                       f"{type(obj).__name__}, not an exception", "the result")
