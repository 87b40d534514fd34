"""The record encoding that carries tasks and results between HTEX processes."""
from __future__ import annotations

import pytest

from parsl_htex import _protocol as P


def _task_batch(tasks):
    return P.TASKS + b"".join(P.task_header(h, d, len(p)) + p for h, d, p in tasks)


def test_task_records_round_trip_and_keep_their_ids():
    tasks = [(1, 10, b"a"), (2, None, b""), (3, 7, b"x" * 70000)]
    body = memoryview(_task_batch(tasks))
    split = P.split_tasks(body)
    assert [P.key_ids(key) for key, _ in split] == [(1, 10), (2, None), (3, 7)]
    # A record is exactly what a worker reads: header then payload.
    for (key, record), (_, _, payload) in zip(split, tasks):
        assert bytes(record) == bytes(key) + len(payload).to_bytes(4, "little") + payload


def test_result_records_round_trip():
    records = [P.result_record(P.make_key(5, 1), 0, b"ok"),
               P.result_record(P.make_key(6, None), 2, b"")]
    body = memoryview(P.RESULTS + b"".join(records))
    got = [(h, tag, bytes(payload)) for h, tag, payload, _, _ in P.iter_results(body)]
    assert got == [(5, 0, b"ok"), (6, 2, b"")]


@pytest.mark.parametrize("cut", [1, 5, 19, 21, 22])
def test_truncated_task_batch_is_refused_whole(cut):
    body = _task_batch([(1, 1, b"payload"), (2, 2, b"more")])
    with pytest.raises(P.MalformedMessage):
        P.split_tasks(memoryview(body[:-cut]))


def test_result_batch_yields_the_good_records_before_a_bad_one():
    good = P.result_record(P.make_key(1, 1), 0, b"fine")
    lying = P.make_key(2, 2) + P.RESULT_TAIL.pack(0, 2**32 - 1) + b"short"
    seen = []
    with pytest.raises(P.MalformedMessage, match="runs past the message end"):
        for h, _, payload, _, _ in P.iter_results(memoryview(P.RESULTS + good + lying)):
            seen.append((h, bytes(payload)))
    assert seen == [(1, b"fine")]
