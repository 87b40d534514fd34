"""Values, types and attributes as Parsl documents them (issue 9, item 3)."""
from __future__ import annotations

import os
import pathlib

import pytest
from typeguard import TypeCheckError

import parsl
from parsl import File, bash_app, python_app
from parsl.app.errors import BadStdStreamFile
from parsl.config import Config
from parsl.errors import BadParameter, ConfigurationError
from parsl.jobs.states import JobState, JobStatus


@bash_app
def echo_streams(msg: str, stdout=None, stderr=None) -> str:  # type: ignore[no-untyped-def]
    return f'echo "{msg}"; echo "{msg}" >&2'


@python_app
def sleepy(seconds: float) -> int:
    import time

    time.sleep(seconds)
    return 7


def test_stdout_returns_the_path_like_object_passed(dfk, tmp_path) -> None:
    out = tmp_path / "o.txt"
    fut = echo_streams("hi", stdout=out)
    assert fut.stdout is out
    fut.result(timeout=30)
    assert out.read_text() == "hi\n"


def test_stderr_returns_the_path_mode_tuple_passed(dfk, tmp_path) -> None:
    spec = (str(tmp_path / "e.txt"), "w")
    fut = echo_streams("hi", stderr=spec)
    assert fut.stderr is spec
    fut.result(timeout=30)


def test_file_as_stdout_is_written_and_exposed_as_a_data_future(dfk, tmp_path) -> None:
    target = File(str(tmp_path / "f.out"))
    fut = echo_streams("via file", stdout=target)
    assert fut.result(timeout=30) == 0
    assert fut.stdout.result(timeout=30).filepath == target.filepath
    assert pathlib.Path(target.filepath).read_text() == "via file\n"


def test_std_autopath_result_is_used_as_given(tmp_path) -> None:
    wanted = tmp_path / "auto" / "custom.out"

    def autopath(record, stream):  # type: ignore[no-untyped-def]
        return wanted.with_suffix(f".{stream}")

    with parsl.load(Config(std_autopath=autopath, run_dir=str(tmp_path / "ri"))):
        fut = echo_streams("auto", stdout=parsl.AUTO_LOGNAME)
        assert fut.stdout == wanted.with_suffix(".stdout")
        fut.result(timeout=30)
    assert wanted.with_suffix(".stdout").read_text() == "auto\n"


def test_auto_logname_streams_do_not_break_memoization(run_dir) -> None:
    @bash_app(cache=True)
    def cached(stdout=None):  # type: ignore[no-untyped-def]
        return "echo once"

    with parsl.load(Config(run_dir=run_dir)):
        first = cached(stdout=parsl.AUTO_LOGNAME)
        first.result(timeout=30)
        second = cached(stdout=parsl.AUTO_LOGNAME)
        second.result(timeout=30)
        assert second.task_record.from_memo


@pytest.mark.parametrize("spec", [["t.out", "w"], ("t.out", None), (42, "w"),
                                  ("t.out", "w", 42), ("t.out",)],
                         ids=["list", "null_mode", "not_a_string", "3tuple", "1tuple"])
def test_malformed_stdout_spec_raises_typeguards_type_check_error(dfk, spec) -> None:
    with pytest.raises(TypeCheckError):
        echo_streams("x", stdout=spec).result(timeout=30)


def test_bad_stdout_mode_raises_bad_std_stream_file(dfk, tmp_path) -> None:
    with pytest.raises(BadStdStreamFile, match="'badmode'"):
        echo_streams("x", stdout=(str(tmp_path / "t.out"), "badmode")).result(timeout=30)


def test_unwritable_stdout_path_fails_the_task_with_bad_std_stream_file(dfk) -> None:
    with pytest.raises(BadStdStreamFile):
        echo_streams("x", stdout="/proc/no/such/dir/t.out").result(timeout=30)


def test_task_status_is_a_method_naming_the_state(dfk) -> None:
    fut = sleepy(0)
    fut.result(timeout=30)
    assert fut.task_status() == "exec_done"


def test_dfk_cleanup_called_is_set_by_cleanup(run_dir) -> None:
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        assert dfk.cleanup_called is False
    assert dfk.cleanup_called is True


def test_dfk_monitoring_is_none_without_a_monitoring_hub(run_dir) -> None:
    with parsl.load(Config(run_dir=run_dir)) as dfk:
        assert dfk.monitoring is None


@python_app
def limited(duration: float, walltime: float = 1) -> int:
    return 7


def test_walltime_wrapped_python_app_keeps_its_function_name(dfk) -> None:
    fut = limited(0.01, walltime=10)
    assert fut.result(timeout=30) == 7
    assert fut.task_record["func"].__name__ == "limited"
    assert fut.task_record["func_name"] == "limited"


def test_job_state_repr_and_str_work() -> None:
    assert str(JobState.COMPLETED) == "JobState.COMPLETED"
    assert repr(JobState.COMPLETED) == "<JobState.COMPLETED: 4>"


def test_job_status_repr_shows_state_and_message() -> None:
    status = JobStatus(JobState.FAILED, "sbatch: invalid partition")
    assert "state=JobState.FAILED message=sbatch: invalid partition" in repr(status)
    assert str(status) == "JobState.FAILED (sbatch: invalid partition)"


@pytest.mark.parametrize("value", ["abcd", None, 1.0, object()])
def test_wrongly_typed_config_value_raises_a_type_check_error(value) -> None:
    with pytest.raises(TypeCheckError) as info:
        Config(usage_tracking=value)
    assert type(info.value).__name__ == "TypeCheckError"
    assert isinstance(info.value, TypeError) and isinstance(info.value, BadParameter)


def test_wrong_exit_mode_names_the_parameter() -> None:
    with pytest.raises(TypeError, match="'exit_mode' got 'wrongmode'"):
        Config(exit_mode="wrongmode")  # type: ignore[arg-type]


@pytest.mark.parametrize("level", [12, 1000, -1])
def test_out_of_range_usage_tracking_is_a_configuration_error(level) -> None:
    with pytest.raises(ConfigurationError, match="usage_tracking"):
        Config(usage_tracking=level)


def test_project_name_must_be_a_string() -> None:
    with pytest.raises(TypeCheckError, match="project_name"):
        Config(usage_tracking=3, project_name=1)  # type: ignore[arg-type]


def test_stdout_relative_path_is_relative_to_the_working_directory(dfk, tmp_path,
                                                                    monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    echo_streams("rel", stdout="rel.out").result(timeout=30)
    assert os.path.exists(tmp_path / "rel.out")


def test_cleanup_logs_parsls_task_summary(run_dir, caplog) -> None:
    caplog.set_level("INFO", logger="parsl.dataflow.dflow")
    with parsl.load(Config(run_dir=run_dir)):
        sleepy(0).result(timeout=30)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Summary of tasks in DFK:" in text
    assert "Tasks in state States.exec_done: 1" in text


@pytest.mark.parametrize("name", ["SimpleLauncher", "SingleNodeLauncher"])
def test_core_launchers_accept_parsls_script_dir_argument(name, tmp_path) -> None:
    import subprocess

    from parsl import launchers

    launcher = getattr(launchers, name)()
    script = launcher(command="echo from-launcher", tasks_per_node=1, nodes_per_block=1,
                      script_dir=str(tmp_path))
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "from-launcher" in proc.stdout
