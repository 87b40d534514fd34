"""The serializer plugin interface."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any


class SerializerBase(metaclass=ABCMeta):
    """A way to turn objects into bytes and back, selected per message by ``identifier``.

    Register a subclass in the ``parsl.serializers`` entry-point group (the entry point name
    is how users select it, see :mod:`parsl.serialize.facade`). ``identifier`` is written
    in front of every message this serializer produced, so the receiving process picks the
    same serializer; it must be short, unique among installed serializers and must not
    contain a newline. ``serialize`` and ``deserialize`` handle the body only: the facade
    adds and strips the identifier. Raise any exception when an object is not supported;
    the facade then tries the next serializer.
    """

    identifier: bytes = b""

    #: Whether this serializer is meant for functions (by value) rather than data.
    _for_code: bool = False
    _for_data: bool = True

    @abstractmethod
    def serialize(self, data: Any) -> bytes:
        """Return the body bytes for ``data``."""

    @abstractmethod
    def deserialize(self, body: bytes) -> Any:
        """Return the object ``body`` (as produced by :meth:`serialize`) encodes."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} identifier={self.identifier!r}>"
