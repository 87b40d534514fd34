"""Message tags and helpers of the wire protocol between HTEX processes.

Every message is a ZeroMQ multipart message whose first frame (after the ROUTER identity,
where there is one) is a short tag. Task and result batches carry their ids in one frame of
packed 16-byte keys ``<q htex_task_id><q dfk_task_id>`` (``-1`` when there is no DFK id), so
one message moves many tasks and nobody unpickles anything just to route it. Control
messages carry small JSON bodies, which are safe to parse from an untrusted peer.

Manager -> interchange (task port):   REG json | HB | DRAIN | BYE
Interchange -> manager:               OK json | NO json | T keys payload... | HB | STOP |
                                      DRAIN (ack: no task follows it)
Manager -> interchange (result port): R keys tags payload... | BYE (after the last results)
Executor -> interchange (tasks):      keys payload...
Interchange -> executor (results):    R keys tags payload... | E json
Executor <-> interchange (commands):  request-id json
"""
from __future__ import annotations

import struct
from typing import Iterator, Optional, Tuple

REG = b"REG"
OK = b"OK"
NO = b"NO"
HB = b"HB"
DRAIN = b"DRAIN"
BYE = b"BYE"
TASKS = b"T"
RESULTS = b"R"
STOP = b"STOP"
EVENT = b"E"

KEY_SIZE = 16
_KEY = struct.Struct("<qq")


def make_key(htex_id: int, dfk_id: Optional[int]) -> bytes:
    return _KEY.pack(htex_id, -1 if dfk_id is None else dfk_id)


def split_keys(frame: bytes) -> Iterator[bytes]:
    """Yield the 16-byte keys packed in ``frame``."""
    for i in range(0, len(frame), KEY_SIZE):
        yield frame[i:i + KEY_SIZE]


def key_ids(key: bytes) -> Tuple[int, Optional[int]]:
    """Return ``(htex_task_id, dfk_task_id_or_None)`` of a key."""
    htex_id, dfk_id = _KEY.unpack(key)
    return htex_id, (dfk_id if dfk_id >= 0 else None)


def htex_ids(frame: bytes) -> Iterator[int]:
    """Yield only the executor task ids of a packed key frame."""
    for htex_id, _ in _KEY.iter_unpack(frame):
        yield htex_id
