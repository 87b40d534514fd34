"""Checkpoint modes, both ways of configuring them, and reusing checkpoints in a new run."""
from __future__ import annotations

import os
import threading
import time

import pytest

import parsl
from parsl import python_app
from parsl.config import Config
from parsl.dataflow.checkpoint import FILE_NAME, TornCheckpointWarning
from parsl.dataflow.memoization import BasicMemoizer
from parsl.errors import BadParameter, ConfigurationError
from parsl.executors.threads import ThreadPoolExecutor
from parsl.utils import get_all_checkpoints, get_last_checkpoint


@python_app(cache=True)
def square(marker: str, x: int) -> int:
    with open(marker, "a") as f:
        f.write(f"{x}\n")
    return x * x


@python_app(cache=True)
def broken(x: int) -> int:
    raise RuntimeError(f"broken {x}")


@python_app(cache=True)
def unpicklable(x: int) -> object:
    return (i for i in range(x))


def _load(run_dir: str, **config: object) -> parsl.DataFlowKernel:
    return parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir,
                             **config))  # type: ignore[arg-type]


def _checkpoint_dir(dfk: parsl.DataFlowKernel) -> str:
    return os.path.join(dfk.run_dir, "checkpoint")


def test_task_exit_result_is_in_checkpoint_when_future_completes(run_dir, counter,
                                                                 records_in):
    dfk = _load(run_dir, checkpoint_mode="task_exit")
    seen_at_completion: list = []
    callback_ran = threading.Event()

    def look(_: object) -> None:
        seen_at_completion.extend(records_in(_checkpoint_dir(dfk)))
        callback_ran.set()

    fut = square(counter("task-exit"), 7)
    fut.add_done_callback(look)
    assert fut.result(timeout=10) == 49
    assert callback_ran.wait(10)
    assert 49 in seen_at_completion


def test_dfk_exit_writes_only_at_cleanup(run_dir, counter, records_in):
    dfk = _load(run_dir, checkpoint_mode="dfk_exit")
    square(counter("dfk-exit"), 3).result(timeout=10)
    assert records_in(_checkpoint_dir(dfk)) == []
    dfk.cleanup()
    assert records_in(_checkpoint_dir(dfk)) == [9]


def test_manual_checkpoint_writes_when_called_and_returns_directory(run_dir, counter,
                                                                   records_in):
    dfk = _load(run_dir, checkpoint_mode="manual")
    square(counter("manual"), 4).result(timeout=10)
    assert records_in(_checkpoint_dir(dfk)) == []
    where = dfk.checkpoint()
    assert where == _checkpoint_dir(dfk)
    assert records_in(where) == [16]


def test_periodic_checkpoint_writes_without_being_asked(run_dir, counter, records_in):
    dfk = _load(run_dir, checkpoint_mode="periodic", checkpoint_period="00:00:01")
    square(counter("periodic"), 5).result(timeout=10)
    deadline = time.monotonic() + 15
    while records_in(_checkpoint_dir(dfk)) != [25]:
        assert time.monotonic() < deadline, "periodic checkpoint never written"
        time.sleep(0.1)


def test_checkpoint_configured_on_memoizer_like_on_config(run_dir, counter, records_in):
    dfk = _load(run_dir, memoizer=BasicMemoizer(checkpoint_mode="task_exit"))
    square(counter("memoizer"), 6).result(timeout=10)
    assert records_in(_checkpoint_dir(dfk)) == [36]


def test_failed_tasks_are_never_checkpointed(run_dir, counter, records_in):
    dfk = _load(run_dir, checkpoint_mode="task_exit")
    with pytest.raises(RuntimeError):
        broken(1).result(timeout=10)
    square(counter("after-failure"), 2).result(timeout=10)
    dfk.cleanup()
    assert records_in(_checkpoint_dir(dfk)) == [4]


def test_unserializable_result_is_left_out_and_logged(run_dir, counter, records_in):
    dfk = _load(run_dir, checkpoint_mode="task_exit")
    unpicklable(1).result(timeout=10)
    square(counter("next"), 3).result(timeout=10)
    dfk.cleanup()
    assert records_in(_checkpoint_dir(dfk)) == [9]
    with open(os.path.join(dfk.run_dir, "parsl.log")) as f:
        assert "cannot be checkpointed" in f.read()


def test_rerun_from_checkpoints_skips_completed_tasks(run_dir, counter, runs):
    marker = counter("rerun")
    with _load(run_dir, checkpoint_mode="task_exit"):
        assert [square(marker, i).result(timeout=10) for i in range(3)] == [0, 1, 4]
    with _load(run_dir, checkpoint_files=get_all_checkpoints(run_dir)):
        assert [square(marker, i).result(timeout=10) for i in range(4)] == [0, 1, 4, 9]
    with open(marker) as f:
        assert f.read().split() == ["0", "1", "2", "3"]


def test_config_checkpoint_files_with_1_3_style_config(run_dir, counter, runs):
    marker = counter("one-three")
    with _load(run_dir, checkpoint_mode="dfk_exit"):
        square(marker, 2).result(timeout=10)
    with _load(run_dir, checkpoint_files=get_last_checkpoint(run_dir),
               checkpoint_mode="dfk_exit"):
        assert square(marker, 2).result(timeout=10) == 4
    assert runs(marker) == 1


def test_get_all_checkpoints_lists_runs_with_checkpoints_oldest_first(tmp_path):
    for run in ("000", "001", "002"):
        os.makedirs(tmp_path / run)
    os.makedirs(tmp_path / "000" / "checkpoint")
    os.makedirs(tmp_path / "002" / "checkpoint")
    assert get_all_checkpoints(str(tmp_path)) == [
        str(tmp_path / "000" / "checkpoint"), str(tmp_path / "002" / "checkpoint")]
    assert get_last_checkpoint(str(tmp_path)) == [str(tmp_path / "002" / "checkpoint")]


def test_checkpoint_helpers_return_empty_without_runinfo(tmp_path):
    assert get_all_checkpoints(str(tmp_path / "missing")) == []
    assert get_last_checkpoint(str(tmp_path / "missing")) == []


def test_unknown_checkpoint_mode_is_rejected_naming_parameter():
    with pytest.raises(BadParameter, match="checkpoint_mode"):
        BasicMemoizer(checkpoint_mode="sometimes")  # type: ignore[arg-type]


def test_periodic_timer_keeps_running_until_the_final_checkpoint_is_written(
        run_dir, counter, records_in):
    """As in Parsl, so a periodic pass that falls due while the run ends is not cancelled
    (Parsl's test_periodic counts on it)."""
    dfk = _load(run_dir, checkpoint_mode="periodic", checkpoint_period="01:00:00")
    square(counter("final-then-stop"), 6).result(timeout=10)
    timer = dfk.memoizer._timer
    on_disk_when_timer_stopped: list = []
    stop = timer.close

    def spy_close(*args: object, **kwargs: object) -> None:
        on_disk_when_timer_stopped.extend(records_in(_checkpoint_dir(dfk)))
        stop(*args, **kwargs)

    timer.close = spy_close
    dfk.cleanup()
    assert on_disk_when_timer_stopped == [36]


def test_periodic_mode_without_period_on_memoizer_is_rejected():
    with pytest.raises(BadParameter, match="checkpoint_period"):
        BasicMemoizer(checkpoint_mode="periodic")


def test_malformed_checkpoint_period_is_rejected():
    with pytest.raises(BadParameter, match="HH:MM:SS"):
        BasicMemoizer(checkpoint_mode="periodic", checkpoint_period="5 minutes")


def test_checkpointing_on_both_config_and_memoizer_is_rejected():
    with pytest.raises(ConfigurationError, match="not both"):
        Config(checkpoint_mode="task_exit", memoizer=BasicMemoizer())


def test_rerun_with_torn_checkpoint_warns_once_and_reruns_only_torn_task(run_dir, counter):
    marker = counter("torn")
    with _load(run_dir, checkpoint_mode="task_exit") as dfk:
        for i in range(3):
            square(marker, i).result(timeout=10)
    path = os.path.join(_checkpoint_dir(dfk), FILE_NAME)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 2)
    with pytest.warns(TornCheckpointWarning) as caught:
        dfk = _load(run_dir, checkpoint_files=get_all_checkpoints(run_dir))
    assert len(caught) == 1
    assert [square(marker, i).result(timeout=10) for i in range(3)] == [0, 1, 4]
    dfk.cleanup()
    with open(marker) as f:
        assert f.read().split() == ["0", "1", "2", "2"]


def test_single_directory_string_as_checkpoint_files_is_rejected():
    with pytest.raises(BadParameter, match="list of checkpoint directories"):
        Config(checkpoint_files="runinfo/000/checkpoint")
    with pytest.raises(BadParameter, match="list of checkpoint directories"):
        BasicMemoizer(checkpoint_files="runinfo/000/checkpoint")


def test_checkpoints_of_runs_numbered_past_999_are_found_in_number_order(tmp_path):
    base = tmp_path / "runinfo"
    for number in ("998", "999", "1000", "1001"):
        (base / number / "checkpoint").mkdir(parents=True)
    found = [os.path.basename(os.path.dirname(p)) for p in get_all_checkpoints(str(base))]
    assert found == ["998", "999", "1000", "1001"]
    assert get_last_checkpoint(str(base)) == [str(base / "1001" / "checkpoint")]


def test_run_numbered_past_999_is_restored_from_its_checkpoint(tmp_path, counter, runs):
    base = tmp_path / "runinfo"
    (base / "999").mkdir(parents=True)
    marker = counter("past999")
    dfk = _load(str(base), checkpoint_mode="task_exit")
    assert os.path.basename(dfk.run_dir) == "1000"
    square(marker, 6).result(timeout=10)
    dfk.cleanup()
    _load(str(base), checkpoint_files=get_last_checkpoint(str(base)))
    assert square(marker, 6).result(timeout=10) == 36
    assert runs(marker) == 1


def test_checkpoints_under_a_non_default_run_dir_are_reused(tmp_path, counter, runs):
    custom = str(tmp_path / "my-campaign")
    marker = counter("custom")
    dfk = _load(custom, checkpoint_mode="dfk_exit")
    square(marker, 7).result(timeout=10)
    dfk.cleanup()
    assert get_all_checkpoints(custom) == [os.path.join(dfk.run_dir, "checkpoint")]
    _load(custom, checkpoint_files=get_all_checkpoints(custom))
    assert square(marker, 7).result(timeout=10) == 49
    assert runs(marker) == 1


@pytest.mark.parametrize("mode", ["manual", "dfk_exit", "periodic"])
def test_each_checkpoint_is_logged_with_its_task_count(run_dir, counter, caplog, mode):
    extra = {"checkpoint_period": "01:00:00"} if mode == "periodic" else {}
    dfk = _load(run_dir, checkpoint_mode=mode, **extra)
    square(counter(f"log-{mode}"), 2).result(timeout=10)
    square(counter(f"log-{mode}"), 3).result(timeout=10)
    with caplog.at_level("INFO", logger="parsl.dataflow.memoization"):
        if mode == "dfk_exit":
            dfk.cleanup()
        else:
            dfk.checkpoint()
    messages = [r.getMessage() for r in caplog.records]
    expected = os.path.join(dfk.run_dir, "checkpoint", FILE_NAME)
    assert f"Done checkpointing 2 tasks to {expected}" in messages


def test_checkpoint_with_nothing_cached_warns_like_parsl(run_dir, caplog):
    dfk = _load(run_dir, checkpoint_mode="manual")
    with caplog.at_level("WARNING", logger="parsl.dataflow.memoization"):
        dfk.checkpoint()
    assert any("No tasks checkpointed so far in this run" in r.getMessage()
               for r in caplog.records)


def test_memoizer_checkpointing_without_files_resumes_from_earlier_runs(run_dir, counter,
                                                                        runs):
    marker = counter("resume")
    with _load(run_dir, memoizer=BasicMemoizer(checkpoint_mode="task_exit")):
        square(marker, 8).result(timeout=10)
    with _load(run_dir, memoizer=BasicMemoizer(checkpoint_mode="task_exit")):
        assert square(marker, 8).result(timeout=10) == 64
    assert runs(marker) == 1


def test_config_level_checkpointing_without_files_starts_afresh_as_in_parsl_1_3(
        run_dir, counter, runs):
    marker = counter("fresh")
    with _load(run_dir, checkpoint_mode="task_exit"):
        square(marker, 8).result(timeout=10)
    with _load(run_dir, checkpoint_mode="task_exit"):
        square(marker, 8).result(timeout=10)
    assert runs(marker) == 2


def test_checkpoint_folder_of_a_run_without_results_is_a_valid_checkpoint(run_dir):
    with _load(run_dir, checkpoint_mode="task_exit") as dfk:
        folder = _checkpoint_dir(dfk)
        broken(1).exception(timeout=10)
    with _load(run_dir, checkpoint_files=[folder]):
        assert isinstance(broken(1).exception(timeout=10), RuntimeError)


def test_reused_results_are_checkpointed_again_so_the_last_checkpoint_suffices(
        run_dir, counter, runs):
    marker = counter("chain")
    with _load(run_dir, checkpoint_mode="task_exit"):
        square(marker, 9).result(timeout=10)
    for _ in range(2):
        with _load(run_dir, checkpoint_mode="task_exit",
                   checkpoint_files=get_last_checkpoint(run_dir)):
            assert square(marker, 9).result(timeout=10) == 81
    assert runs(marker) == 1
