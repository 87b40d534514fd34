"""The wire protocol between HTEX processes: message tags and task/result records.

Every message body is one ZeroMQ frame (after the ROUTER identity, where there is one), or
one length-prefixed message on the managers' plain TCP connections (see
:mod:`parsl_htex._tcp`), that starts with a one-byte tag. pyzmq spends several
microseconds on each extra frame of a multipart message, more than moving the bytes
costs, so a batch of tasks or results travels as one frame of concatenated *records*,
each a fixed header and its payload:

- task record:   ``<q htex_task_id><q dfk_task_id><I length>`` + serialized task
- result record: ``<q htex_task_id><q dfk_task_id><B result tag><I length>`` + payload

(``dfk_task_id`` is ``-1`` when there is none). The first 16 bytes of a record are its
*key*. A task record is also exactly what a manager writes to a worker's pipe, and a
result record what the worker writes back, so records move from process to process
without being re-encoded, and nobody unpickles anything just to route it. Control messages
carry small JSON bodies, which are safe to parse from an untrusted peer.

Manager -> interchange, first on each TCP connection: HELLO manager-id
Manager -> interchange (task port):   REG json | HB count | DRAIN | BYE
Interchange -> manager:               OK json | NO json | TASKS records | HB | STOP |
                                      DRAIN (ack: no task follows it)
Manager -> interchange (result port): RESULTS records | BYE (after the last results)

A result record with tag ``MONITORING`` and key ``MONITORING_KEY`` belongs to no task: its
payload is a batch of monitoring events a worker's task observer sent (a pickle of plain
data, opaque to HTEX), which the executor hands to its ``monitoring_message_handler``.
Executor -> interchange (tasks):      TASKS records
Interchange -> executor (results):    RESULTS records | EVENT json
Executor <-> interchange (commands):  request-id json (multipart; rare)
"""
from __future__ import annotations

import math
import struct
from typing import Any, Iterator, List, Optional, Tuple

REG = b"G"
OK = b"K"
NO = b"N"
HB = b"H"
DRAIN = b"D"
BYE = b"B"
TASKS = b"T"
#: A batch of tasks sharing one priority: tag, the priority (a big-endian double), records.
PRIORITY_TASKS = b"P"
RESULTS = b"R"
STOP = b"S"
EVENT = b"E"
#: First message on each of a manager's plain TCP connections: the tag and its id.
HELLO = b"I"
#: Longest manager id a HELLO may carry.
MAX_ID = 255

KEY_SIZE = 16
_KEY = struct.Struct("<qq")
TASK_HEADER = struct.Struct("<qqI")
RESULT_HEADER = struct.Struct("<qqBI")
#: What follows the key in a result record's header.
RESULT_TAIL = struct.Struct("<BI")
MAX_PAYLOAD = 2**32 - 1
#: Result tag of a monitoring record (task result tags are in ``_serial``).
MONITORING = 3


class MalformedMessage(ValueError):
    """A message whose records do not add up (truncated, or not a batch at all)."""


def make_key(htex_id: int, dfk_id: Optional[int]) -> bytes:
    return _KEY.pack(htex_id, -1 if dfk_id is None else dfk_id)


#: The key of every monitoring record: no htex task has id -1.
MONITORING_KEY = make_key(-1, None)


def key_ids(key: Any) -> Tuple[int, Optional[int]]:
    """Return ``(htex_task_id, dfk_task_id_or_None)`` of a key (or of a record)."""
    htex_id, dfk_id = _KEY.unpack_from(key)
    return htex_id, (dfk_id if dfk_id >= 0 else None)


def task_header(htex_id: int, dfk_id: Optional[int], payload_size: int) -> bytes:
    return TASK_HEADER.pack(htex_id, -1 if dfk_id is None else dfk_id, payload_size)


def result_header(key: bytes, tag: int, payload_size: int) -> bytes:
    """The header of a result record, for writing it ahead of its payload."""
    return key + RESULT_TAIL.pack(tag, payload_size)


def result_record(key: bytes, tag: int, payload: bytes) -> bytes:
    """One result record (used off the hot path: lost workers and managers)."""
    return result_header(key, tag, len(payload)) + payload


def _records(body: memoryview, start: int, header: struct.Struct,
             kind: str) -> Iterator[Tuple[Tuple[Any, ...], int, int]]:
    """Yield ``(header fields, record_start, record_end)`` of each record in
    ``body[start:]``; raise MalformedMessage at the first one that does not fit."""
    end = len(body)
    pos = start
    size = header.size
    unpack = header.unpack_from
    while pos < end:
        if end - pos < size:
            raise MalformedMessage(f"truncated {kind} record header at byte {pos}")
        fields = unpack(body, pos)
        stop = pos + size + fields[-1]
        if stop > end:
            raise MalformedMessage(f"{kind} record at byte {pos} runs past the message end")
        yield fields, pos, stop
        pos = stop


#: Where a task record's payload length sits, and where its payload starts.
_TASK_LENGTH = struct.Struct("<I")
_TASK_LENGTH_AT = KEY_SIZE
_TASK_PAYLOAD_AT = TASK_HEADER.size


def split_tasks(body: memoryview, start: int = 1) -> List[Tuple[bytes, memoryview]]:
    """``(key, record)`` of each task record in ``body[start:]``; the records are views.

    Raises MalformedMessage, before returning anything, if the records do not exactly
    fill the body. (A plain loop rather than :func:`_records`: this runs for every task,
    twice, and a generator step per record costs more than the slicing.)
    """
    found: List[Tuple[bytes, memoryview]] = []
    append = found.append
    length_at = _TASK_LENGTH.unpack_from
    end = len(body)
    pos = start
    while pos < end:
        if end - pos < _TASK_PAYLOAD_AT:
            raise MalformedMessage(f"truncated task record header at byte {pos}")
        stop = pos + _TASK_PAYLOAD_AT + length_at(body, pos + _TASK_LENGTH_AT)[0]
        if stop > end:
            raise MalformedMessage(f"task record at byte {pos} runs past the message end")
        append((body[pos:pos + KEY_SIZE].tobytes(), body[pos:stop]))
        pos = stop
    return found


_PRIORITY = struct.Struct("!d")


def prioritized_tasks(priority: float, records: bytes) -> bytes:
    """The message of task records (header + payload each) that share ``priority``."""
    return PRIORITY_TASKS + _PRIORITY.pack(priority) + records


def split_prioritized_tasks(body: memoryview) -> Tuple[float, List[Tuple[bytes, memoryview]]]:
    """``(priority, [(key, record)...])`` of a PRIORITY_TASKS message; a priority that is
    not a number (NaN) is MalformedMessage."""
    if len(body) < 1 + _PRIORITY.size:
        raise MalformedMessage("a prioritized task batch without its priority")
    (priority,) = _PRIORITY.unpack_from(body, 1)
    if math.isnan(priority):
        raise MalformedMessage("a prioritized task batch whose priority is NaN")
    return priority, split_tasks(body, 1 + _PRIORITY.size)


_RESULT_TAIL_AT = KEY_SIZE
_RESULT_PAYLOAD_AT = RESULT_HEADER.size


def result_spans(body: memoryview, start: int = 1) -> Tuple[List[Tuple[int, int, int]],
                                                            Optional[str]]:
    """``(tag, record_start, record_end)`` of each result record in ``body[start:]``, and
    why the rest of the body is not a record (None when every byte was one).

    The records before a bad one are returned. A plain loop, for the interchange, which
    checks every result record it forwards (see :func:`split_tasks`).
    """
    spans: List[Tuple[int, int, int]] = []
    append = spans.append
    tail_at = RESULT_TAIL.unpack_from
    end = len(body)
    pos = start
    while pos < end:
        if end - pos < _RESULT_PAYLOAD_AT:
            return spans, f"truncated result record header at byte {pos}"
        tag, length = tail_at(body, pos + _RESULT_TAIL_AT)
        stop = pos + _RESULT_PAYLOAD_AT + length
        if stop > end:
            return spans, f"result record at byte {pos} runs past the message end"
        append((tag, pos, stop))
        pos = stop
    return spans, None


def iter_results(body: memoryview, start: int = 1) -> Iterator[Tuple[int, int, memoryview,
                                                                     int, int]]:
    """Yield ``(htex_id, tag, payload, record_start, record_end)`` for each result record.

    Raises MalformedMessage at the first record that does not fit; the records before it
    have been yielded.
    """
    header = RESULT_HEADER.size
    for (htex_id, _, tag, _), pos, stop in _records(body, start, RESULT_HEADER, "result"):
        yield htex_id, tag, body[pos + header:stop], pos, stop
