"""The checkpoint file: Parsl's format, what survives damage and what is reported."""
from __future__ import annotations

import os
import pickle
import warnings

import pytest

from parsl.dataflow.checkpoint import (
    FILE_NAME,
    CheckpointWriter,
    RecordEncoder,
    TornCheckpointWarning,
    iter_records,
    load_checkpoints,
)
from parsl.dataflow.errors import BadCheckpoint


def _write(directory: str, items: dict, close: bool = True) -> str:
    encoder = RecordEncoder()
    writer = CheckpointWriter(directory)
    writer.append([encoder.encode(key, value) for key, value in items.items()])
    if close:
        writer.close()
    return os.path.join(directory, FILE_NAME)


def test_records_round_trip(tmp_path):
    path = _write(str(tmp_path), {"k1": 1, "k2": {"nested": [1, 2]}, "k3": None})
    assert dict(iter_records(path)) == {"k1": 1, "k2": {"nested": [1, 2]}, "k3": None}


def test_result_needing_dill_round_trips(tmp_path):
    path = _write(str(tmp_path), {"k": lambda x: x + 1})
    (_, value), = iter_records(path)
    assert value(1) == 2


def test_file_is_read_by_plain_pickle_as_parsl_reads_it(tmp_path):
    path = _write(str(tmp_path), {"k1": 1, "k2": [2]})
    records = []
    with open(path, "rb") as f:
        while True:
            try:
                records.append(pickle.load(f))
            except EOFError:
                break
    assert [(r["hash"], r["exception"], r["result"]) for r in records] == \
        [("k1", None, 1), ("k2", None, [2])]


def test_records_are_readable_while_the_writer_is_open(tmp_path):
    path = _write(str(tmp_path), {"a": 1, "b": 2}, close=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dict(iter_records(path)) == {"a": 1, "b": 2}


def test_zero_bytes_after_the_records_end_the_file_cleanly(tmp_path):
    path = _write(str(tmp_path), {"a": 1})
    with open(path, "ab") as f:
        f.write(b"\0" * 4096)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dict(iter_records(path)) == {"a": 1}


def test_torn_last_record_is_skipped_with_one_warning(tmp_path):
    path = _write(str(tmp_path), {"a": 1, "b": 2, "c": "last"})
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3)
    with pytest.warns(TornCheckpointWarning) as caught:
        loaded = dict(iter_records(path))
    assert loaded == {"a": 1, "b": 2}
    assert len(caught) == 1
    assert path in str(caught[0].message)


def test_garbage_after_the_records_is_reported_as_torn(tmp_path):
    path = _write(str(tmp_path), {"a": 1})
    with open(path, "ab") as f:
        f.write(b"\x10\x00")
    with pytest.warns(TornCheckpointWarning):
        assert dict(iter_records(path)) == {"a": 1}


def test_file_that_is_not_a_checkpoint_is_rejected(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(BadCheckpoint, match="not a parsl checkpoint"):
        list(iter_records(str(path)))


def test_empty_file_has_no_records(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"")
    assert list(iter_records(str(path))) == []


def test_exception_records_are_never_loaded(tmp_path):
    path = tmp_path / FILE_NAME
    with open(path, "wb") as f:
        pickle.dump({"hash": "k", "exception": RuntimeError("x"), "result": None}, f)
    assert list(iter_records(str(path))) == []


def test_missing_checkpoint_path_is_rejected_naming_it(tmp_path):
    missing = str(tmp_path / "nope" / "checkpoint")
    with pytest.raises(BadCheckpoint, match="nope"):
        load_checkpoints([missing])


def test_existing_directory_without_file_loads_as_empty(tmp_path):
    assert load_checkpoints([str(tmp_path)]) == {}


def test_later_checkpoints_win_for_the_same_key(tmp_path):
    _write(str(tmp_path / "one"), {"k": "old"})
    _write(str(tmp_path / "two"), {"k": "new"})
    assert load_checkpoints([str(tmp_path / "one"), str(tmp_path / "two")]) == {"k": "new"}


def test_reopened_file_appends_after_existing_records(tmp_path):
    _write(str(tmp_path), {"a": 1})
    path = _write(str(tmp_path), {"b": 2})
    assert dict(iter_records(path)) == {"a": 1, "b": 2}
