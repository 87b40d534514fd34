"""The serializers that come with parsl-core: pickle, dill, and dill for functions.

They are registered in the ``parsl.serializers`` entry-point group as ``pickle``,
``dill`` and ``dill_callable``, exactly like third-party serializers.
"""
from __future__ import annotations

import functools
import logging
import pickle
import weakref
from typing import Any, Callable, MutableMapping

from parsl.serialize.base import SerializerBase

logger = logging.getLogger(__name__)

#: Protocol 5 (Python 3.8+) frames large buffers efficiently.
PICKLE_PROTOCOL = 5


class PickleSerializer(SerializerBase):
    """The standard library's pickle: fast; functions and classes travel by reference."""

    identifier = b"01"

    def serialize(self, data: Any) -> bytes:
        return pickle.dumps(data, protocol=PICKLE_PROTOCOL)

    def deserialize(self, body: bytes) -> Any:
        return pickle.loads(body)


class DillSerializer(SerializerBase):
    """dill: also handles lambdas, closures, and functions defined in ``__main__``."""

    identifier = b"02"

    def serialize(self, data: Any) -> bytes:
        import dill

        return dill.dumps(data, protocol=PICKLE_PROTOCOL)  # type: ignore[no-any-return]

    def deserialize(self, body: bytes) -> Any:
        import dill

        return dill.loads(body)


class DillCallableSerializer(SerializerBase):
    """dill for functions, with caches on both sides.

    An app's function is sent with every task. Serializing it by value costs far more than
    pickling typical arguments, so the bytes are cached per function object (weakly: a
    function that goes away drops its entry), and the receiving side caches the function
    rebuilt from identical bytes. As with a module-level function in a worker, module
    globals the function changes persist between tasks on one worker.
    """

    identifier = b"C2"
    _for_code = True
    _for_data = False

    def __init__(self, cache_size: int = 128) -> None:
        self._serialized: MutableMapping[Any, bytes] = weakref.WeakKeyDictionary()
        self._deserialize_cached: Callable[[bytes], Any] = functools.lru_cache(
            maxsize=cache_size)(self._deserialize_uncached)

    def serialize(self, data: Any) -> bytes:
        try:
            return self._serialized[data]
        except (KeyError, TypeError):
            # KeyError: not cached yet; TypeError: not weak-referenceable, never cached.
            pass
        import dill

        body: bytes = dill.dumps(data, protocol=PICKLE_PROTOCOL)
        try:
            self._serialized[data] = body
        except TypeError:
            logger.debug("not caching serialized %s: it is not weak-referenceable",
                         type(data).__name__)
        return body

    @staticmethod
    def _deserialize_uncached(body: bytes) -> Any:
        import dill

        return dill.loads(body)

    def deserialize(self, body: bytes) -> Any:
        return self._deserialize_cached(bytes(body))
