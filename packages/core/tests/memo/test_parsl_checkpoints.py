"""Checkpoints real Parsl wrote (``tasks.pkl``) are reused by a run of this project."""
from __future__ import annotations

import os
import shutil

import pytest

import parsl
from parsl.config import Config
from parsl.dataflow.checkpoint import TornCheckpointWarning
from parsl.dataflow.memoization import BasicMemoizer
from parsl.dataflow.states import States

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "realparsl")


@pytest.fixture
def parsl_checkpoint(tmp_path, monkeypatch) -> str:
    """A Parsl run folder whose checkpoint/ holds the tasks.pkl Parsl 2026.10 wrote."""
    monkeypatch.syspath_prepend(DATA)
    folder = tmp_path / "parsl-runinfo" / "000" / "checkpoint"
    folder.mkdir(parents=True)
    shutil.copy(os.path.join(DATA, "tasks.pkl"), folder / "tasks.pkl")
    return str(folder)


def _assert_from_checkpoint(future) -> None:
    future.result(timeout=30)
    assert future.task_record.from_memo is True
    assert future.task_record.status is States.memo_done


def test_python_app_results_from_a_parsl_checkpoint_are_reused(parsl_checkpoint,
                                                               run_dir) -> None:
    import realparsl_apps as apps

    with parsl.load(Config(checkpoint_files=[parsl_checkpoint], run_dir=run_dir)):
        first = apps.scale(3)
        nested = apps.scale(4, factor=5, tags={"b": [1, 2], "a": "x"})
        floats = apps.scale(2.5, tags=("t", None))
        for future in (first, nested, floats):
            _assert_from_checkpoint(future)
        assert nested.result() == {"value": 20, "tags": {"b": [1, 2], "a": "x"}}


def test_bash_app_result_from_a_parsl_checkpoint_is_reused(parsl_checkpoint,
                                                           run_dir) -> None:
    import realparsl_apps as apps

    with parsl.load(Config(memoizer=BasicMemoizer(checkpoint_files=[parsl_checkpoint]),
                           run_dir=run_dir)):
        future = apps.greet("world")
        _assert_from_checkpoint(future)
        assert future.result() == 0


def test_calls_parsl_did_not_checkpoint_still_run(parsl_checkpoint, run_dir) -> None:
    import realparsl_apps as apps

    with parsl.load(Config(checkpoint_files=[parsl_checkpoint], run_dir=run_dir)):
        future = apps.scale(3, factor=3)
        assert future.result(timeout=30) == {"value": 9, "tags": None}
        assert future.task_record.from_memo is None


def test_parsl_checkpoint_found_by_get_all_checkpoints_is_loaded(parsl_checkpoint,
                                                                 run_dir) -> None:
    import realparsl_apps as apps

    from parsl.utils import get_all_checkpoints

    base = os.path.dirname(os.path.dirname(parsl_checkpoint))
    with parsl.load(Config(checkpoint_files=get_all_checkpoints(base), run_dir=run_dir)):
        _assert_from_checkpoint(apps.scale(3))


def test_torn_parsl_checkpoint_keeps_the_records_before_the_damage(parsl_checkpoint,
                                                                   run_dir) -> None:
    import realparsl_apps as apps

    path = os.path.join(parsl_checkpoint, "tasks.pkl")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-20])
    with pytest.warns(TornCheckpointWarning, match="tasks.pkl is torn"):
        with parsl.load(Config(checkpoint_files=[parsl_checkpoint], run_dir=run_dir)):
            _assert_from_checkpoint(apps.scale(3))
