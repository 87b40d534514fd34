"""How tasks and results are turned into bytes on their way through the executor.

The hot path is plain :mod:`pickle` (protocol 5). Functions and arguments that pickle cannot
handle (lambdas, functions defined in ``__main__`` or wrapped by an app decorator, closures)
fall back to :mod:`dill`, whose output is marked with a leading ``b"D"`` (a pickle stream
always starts with ``b"\\x80"``) because only ``dill.loads`` reads it back.

A function is serialized once per submit-side process and deserialized once per worker
(both sides cache by identity / by bytes): a workflow sends the same app thousands of times.

Task wire format: ``pickle((function_bytes, args, kwargs, resource_specification))``.
Result wire format: a one-byte tag frame beside the payload frame, see :data:`RESULT_OK`.
"""
from __future__ import annotations

import logging
import pickle
import traceback
import weakref
from typing import Any, Callable, Dict, Optional, Tuple

from parsl.errors import ParslError

logger = logging.getLogger(__name__)

#: Payload is the pickled return value.
RESULT_OK = 0
#: Payload is a pickled :class:`_RemoteError` raised by the task.
RESULT_TASK_ERROR = 1
#: Payload is a pickled exception raised by the executor itself (WorkerLost, ManagerLost...).
RESULT_EXECUTOR_ERROR = 2

_PROTOCOL = 5
_WORKER_CACHE_LIMIT = 512

_func_cache: weakref.WeakKeyDictionary[Callable[..., Any], bytes] = weakref.WeakKeyDictionary()
_loaded_funcs: Dict[bytes, Callable[..., Any]] = {}


class SerializationError(ParslError):
    """Something a task needs could not be turned into bytes (or back).

    Used only when ``parsl.serialize.errors.SerializationError`` is not available, so
    callers can catch either one by that name.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _serialization_error(message: str) -> Exception:
    try:
        from parsl.serialize.errors import SerializationError as CoreSerializationError
    except ImportError:
        return SerializationError(message)
    try:
        return CoreSerializationError(message)
    except TypeError:
        logger.debug("parsl.serialize.errors.SerializationError has another signature; "
                     "using parsl_htex's")
        return SerializationError(message)


_DILL_MARK = ord("D")


def _dumps_fallback(obj: Any) -> bytes:
    import dill

    return b"D" + dill.dumps(obj, protocol=_PROTOCOL)


def _loads(data: Any) -> Any:
    if data[0] == _DILL_MARK:
        import dill

        return dill.loads(memoryview(data)[1:])
    return pickle.loads(data)


def serialize(obj: Any) -> bytes:
    """Serialize ``obj`` with pickle, falling back to dill; raises whatever dill raises."""
    try:
        return pickle.dumps(obj, _PROTOCOL)
    except Exception:
        return _dumps_fallback(obj)


def deserialize(data: Any) -> Any:
    """Inverse of :func:`serialize` (accepts bytes, memoryview or a zmq frame buffer)."""
    return _loads(data)


def _function_bytes(func: Callable[..., Any], describe: str) -> bytes:
    try:
        return _func_cache[func]
    except (KeyError, TypeError):
        pass
    try:
        if getattr(func, "__module__", None) == "__main__":
            raise pickle.PicklingError("functions of __main__ must travel by value")
        blob = pickle.dumps(func, _PROTOCOL)
    except Exception:
        try:
            blob = _dumps_fallback(func)
        except Exception as e:
            raise _serialization_error(
                f"Failed to serialize the function of {describe} "
                f"({getattr(func, '__qualname__', type(func).__name__)}): "
                f"{type(e).__name__}: {e}") from e
    try:
        _func_cache[func] = blob
    except TypeError:
        logger.debug("function %r cannot be weakly referenced; not caching its bytes", func)
    return blob


def _find_unserializable(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> str:
    """Name the first argument dill cannot serialize, for the error message."""
    import dill

    items = [(f"positional argument {i}", a) for i, a in enumerate(args)]
    items += [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
    for name, value in items:
        try:
            dill.dumps(value, protocol=_PROTOCOL)
        except Exception as e:
            return f"{name} of type {type(value).__name__}: {type(e).__name__}: {e}"
    return "an argument"


def pack_apply_message(func: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any],
                       resource_specification: Optional[Dict[str, Any]] = None,
                       *, describe: str = "the task") -> bytes:
    """Serialize one task invocation; raises SerializationError naming what failed.

    ``describe`` names the task in error messages (e.g. ``"task 7 (app 'double')"``).
    """
    fblob = _function_bytes(func, describe)
    message = (fblob, args, kwargs, resource_specification)
    try:
        return pickle.dumps(message, _PROTOCOL)
    except Exception:
        pass
    try:
        return _dumps_fallback(message)
    except Exception as e:
        raise _serialization_error(
            f"Failed to serialize the arguments of {describe}: "
            f"{_find_unserializable(args, kwargs)}") from e


def unpack_apply_message(data: Any) -> Tuple[Callable[..., Any], Tuple[Any, ...],
                                            Dict[str, Any], Optional[Dict[str, Any]]]:
    """Inverse of :func:`pack_apply_message`, caching functions by their bytes."""
    fblob, args, kwargs, spec = _loads(data)
    func = _loaded_funcs.get(fblob)
    if func is None:
        func = _loads(fblob)
        if len(_loaded_funcs) >= _WORKER_CACHE_LIMIT:
            _loaded_funcs.clear()
        _loaded_funcs[fblob] = func
    return func, args, kwargs, spec


class _RemoteError:
    """An exception raised by a task, with its remote traceback text, ready to pickle.

    The exception itself is kept pickled separately so a type that cannot be re-created on
    the submit side still yields its type name, message and traceback.
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
                exc = _loads(self.exc_bytes)
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
    """Pickle a task's exception with its traceback text (never raises)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        exc_bytes: Optional[bytes] = serialize(exc)
    except Exception:
        exc_bytes = None
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    try:
        message = str(exc)
    except Exception:
        message = repr(type(exc))
    return pickle.dumps(_RemoteError(name, message, text, exc_bytes), _PROTOCOL)


def serialize_result(value: Any) -> Tuple[int, bytes]:
    """Serialize a task's return value as ``(tag, payload)``.

    A value that cannot be serialized turns into a task error naming the result's type.
    """
    try:
        return RESULT_OK, serialize(value)
    except Exception as e:
        err = _serialization_error(
            f"Failed to serialize the result of the task: the result of type "
            f"{type(value).__name__} cannot be pickled: {type(e).__name__}: {e}")
        return RESULT_TASK_ERROR, serialize_exception(err)


def result_to_outcome(tag: int, payload: Any) -> Tuple[bool, Any]:
    """Decode a result frame into ``(ok, value_or_exception)`` on the submit side."""
    if tag == RESULT_OK:
        return True, _loads(payload)
    obj = _loads(payload)
    if isinstance(obj, _RemoteError):
        return False, obj.to_exception()
    if isinstance(obj, BaseException):
        return False, obj
    return False, _serialization_error(f"result frame with tag {tag} held a {type(obj).__name__}")
