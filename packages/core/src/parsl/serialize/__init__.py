"""Serialization of task functions, arguments and results; see :mod:`parsl.serialize.facade`."""
from __future__ import annotations

from parsl.serialize.facade import (
    deserialize,
    pack_apply_message,
    pack_res_spec_apply_message,
    register_method_for_code,
    register_method_for_data,
    serialize,
    unpack_apply_message,
    unpack_res_spec_apply_message,
    unregister_serializer,
)

__all__ = [
    "deserialize",
    "pack_apply_message",
    "pack_res_spec_apply_message",
    "register_method_for_code",
    "register_method_for_data",
    "serialize",
    "unpack_apply_message",
    "unpack_res_spec_apply_message",
    "unregister_serializer",
]
