"""Run one packed task in the current process: what a worker does with a task message.

Parsl's module path ``parsl.executors.execute_task``; executors that ship tasks as bytes
(and tests) use it to run a message built by :func:`parsl.serialize.pack_apply_message`
or :func:`parsl.serialize.pack_res_spec_apply_message`.
"""
from __future__ import annotations

import os
from typing import Any

from parsl.serialize.facade import unpack_res_spec_apply_message

__all__ = ["execute_task"]


def execute_task(bufs: bytes) -> Any:
    """Deserialize ``bufs`` and call the function with its arguments; return its result
    (its exception propagates).

    Each entry of the task's resource specification is exported first as
    ``PARSL_<NAME>`` (``num_nodes`` -> ``PARSL_NUM_NODES``), so a task sees its own
    resources as it does under Parsl.
    """
    func, args, kwargs, resource_spec = unpack_res_spec_apply_message(bufs)
    for name, value in (resource_spec or {}).items():
        os.environ["PARSL_" + str(name).upper()] = str(value)
    return func(*args, **kwargs)
