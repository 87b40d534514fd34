"""Checks on what managers send the interchange, field by field.

With ``encrypted=False`` anyone who can reach the worker ports can send the interchange
anything, so nothing a manager sends is trusted: a registration whose fields have the
wrong type or an impossible value is refused with a reason naming the field, and a
heartbeat, drain or goodbye carrying unexpected bytes is dropped. The interchange logs
each refusal with the sender and keeps serving everyone else.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

from parsl_htex._protocol import MONITORING_KEY

#: Longest string accepted in a registration field (hostnames, versions, ids).
MAX_TEXT = 1024
#: Most workers (and prefetched tasks) one manager may announce.
MAX_WORKERS = 1_000_000
#: Longest heartbeat body: the decimal count of tasks the manager has finished.
MAX_HB_DIGITS = 20
#: Most distributions a manager may list in its registration.
MAX_PACKAGES = 100_000
#: Largest monitoring batch a worker may send in one record.
MAX_MONITORING_BYTES = 64 * 2**20

_Spec = Tuple[Type[Any], bool, int, int]

#: field -> (type, required, minimum, maximum); bounds apply to ints and lengths of text.
REGISTRATION_FIELDS: Dict[str, _Spec] = {
    "manager_id": (str, False, 0, MAX_TEXT),
    "block_id": (str, True, 0, MAX_TEXT),
    "hostname": (str, True, 0, MAX_TEXT),
    "pid": (int, False, 0, 2**31),
    "worker_count": (int, True, 1, MAX_WORKERS),
    "prefetch_capacity": (int, False, 0, MAX_WORKERS),
    "python": (str, True, 0, MAX_TEXT),
    "python_full": (str, False, 0, MAX_TEXT),
    "htex_version": (str, True, 0, MAX_TEXT),
    "cpu_count": (int, False, 0, MAX_WORKERS),
    "accelerators": (list, False, 0, MAX_WORKERS),
    "total_memory": (int, False, 0, 2**62),
    "os": (str, False, 0, MAX_TEXT),
    "parsl_version": (str, False, 0, MAX_TEXT),
    "packages": (dict, False, 0, MAX_PACKAGES),
}


def _type_name(value: Any) -> str:
    return type(value).__name__


def registration_problem(info: Any) -> Optional[str]:
    """Why ``info`` (a parsed registration) is not acceptable, or None if it is.

    Unknown extra fields are allowed (a newer manager may send more), known ones must
    have their type (``bool`` is not an int here) and lie within their bounds.
    """
    if not isinstance(info, dict):
        return f"a registration must be a JSON object, not {_type_name(info)}"
    for field, (kind, required, low, high) in REGISTRATION_FIELDS.items():
        if field not in info:
            if required:
                return f"field {field!r} is missing"
            continue
        value = info[field]
        if not isinstance(value, kind) or isinstance(value, bool):
            return (f"field {field!r} is {value!r:.100} ({_type_name(value)}); expected "
                    f"{kind.__name__}")
        size = value if kind is int else len(value)
        if not low <= size <= high:
            what = "value" if kind is int else "length"
            return (f"field {field!r} has {what} {size}; expected between {low} and "
                    f"{high}")
        if kind is list and not all(isinstance(a, str) and len(a) <= MAX_TEXT
                                    for a in value):
            return f"field {field!r} must be a list of strings"
        if kind is dict and not all(isinstance(k, str) and isinstance(v, str)
                                    and len(k) <= MAX_TEXT and len(v) <= MAX_TEXT
                                    for k, v in value.items()):
            return f"field {field!r} must map strings to strings"
    return None


def heartbeat_problem(body: bytes) -> Optional[str]:
    """Why a heartbeat body (after its tag) is not a finished-task count, or None."""
    if body == b"" or (len(body) <= MAX_HB_DIGITS and body.isdigit()):
        return None
    return f"heartbeat body {body[:32]!r} is not a count of finished tasks"


def monitoring_problem(key: bytes, payload: Any) -> Optional[str]:
    """Why a monitoring record (key and payload) is not acceptable, or None if it is:
    the key must be the monitoring key and the payload, at most MAX_MONITORING_BYTES, must
    be framed as a pickle (protocol 2 or later: it starts with PROTO and ends with STOP).

    The payload is not decoded here: the monitoring plugin decodes it (with an unpickler
    that refuses every global), so the interchange only forwards the bytes.
    """
    if key != MONITORING_KEY:
        return "a monitoring record must carry the monitoring key, not a task's"
    if len(payload) > MAX_MONITORING_BYTES:
        return (f"monitoring payload is {len(payload)} bytes; expected at most "
                f"{MAX_MONITORING_BYTES}")
    if len(payload) < 3 or payload[0] != 0x80 or payload[-1] != 0x2E:
        return (f"monitoring payload {bytes(payload[:16])!r}... is not a pickled batch "
                f"(expected PROTO 0x80 first and STOP '.' last)")
    return None
