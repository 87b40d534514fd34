"""Bash apps: command built on the worker, exit codes, outputs, walltime, std streams."""
from __future__ import annotations

import os
import time

import pytest

import parsl
from parsl import File, bash_app
from parsl.app.errors import (
    AppTimeout,
    BadStdStreamFile,
    BashAppNoReturn,
    BashExitFailure,
    MissingOutputs,
)


@bash_app
def run(command, stdout=None, stderr=None, walltime=None, outputs=()):
    return command


def test_nonzero_exit_raises_bash_exit_failure_with_code(dfk):
    with pytest.raises(BashExitFailure) as info:
        run("exit 3").result(timeout=10)
    assert info.value.exitcode == 3
    assert "run" in str(info.value) and "3" in str(info.value)


def test_success_returns_zero(dfk):
    assert run("true").result(timeout=10) == 0


def test_missing_outputs_raise(dfk, tmp_path):
    target = File(str(tmp_path / "absent.txt"))
    with pytest.raises(MissingOutputs) as info:
        run("true", outputs=[target]).result(timeout=10)
    assert target in info.value.outputs


def test_produced_outputs_resolve(dfk, tmp_path):
    target = File(str(tmp_path / "made.txt"))
    fut = run(f"echo made > {target.filepath}", outputs=[target])
    assert fut.outputs[0].result(timeout=10) is target
    assert open(target.filepath).read() == "made\n"


def test_walltime_raises_app_timeout_and_kills_command(dfk, tmp_path):
    marker = tmp_path / "late"
    with pytest.raises(AppTimeout, match="walltime"):
        run(f"sleep 5; touch {marker}", walltime=0.5).result(timeout=10)
    assert not marker.exists()


def test_command_is_built_on_the_worker_with_resolved_arguments(dfk, tmp_path):
    @bash_app
    def worker_side(value, stdout=None):
        import threading

        return f"echo {value} {threading.current_thread().name}"

    out = tmp_path / "o.txt"
    worker_side(run("true"), stdout=str(out)).result(timeout=10)
    text = out.read_text().split()
    assert text[0] == "0"
    assert text[1].startswith("parsl-")


def test_function_not_returning_a_string_fails_clearly(dfk):
    @bash_app
    def not_a_command():
        return 42

    with pytest.raises(BashAppNoReturn, match="must return a command string"):
        not_a_command().result(timeout=10)


def test_stdout_stderr_paths_tuples_and_modes(dfk, tmp_path):
    out, err = tmp_path / "out", tmp_path / "err"
    out.write_text("old\n")
    run("echo a; echo b >&2", stdout=str(out), stderr=(str(err), "w")).result(timeout=10)
    assert out.read_text() == "old\na\n"
    run("echo c", stdout=(str(out), "w")).result(timeout=10)
    assert out.read_text() == "c\n"
    assert err.read_text() == "b\n"


def test_auto_logname_puts_streams_under_run_dir(dfk):
    fut = run("echo to-auto; echo err-auto >&2", stdout=parsl.AUTO_LOGNAME,
              stderr=parsl.AUTO_LOGNAME)
    fut.result(timeout=10)
    assert fut.stdout.startswith(os.path.join(dfk.run_dir, "task_logs"))
    assert fut.stdout.endswith(f"task_{fut.tid:04d}_run.stdout")
    assert open(fut.stdout).read() == "to-auto\n"
    assert open(fut.stderr).read() == "err-auto\n"


def test_std_autopath_config_chooses_paths(run_dir, tmp_path):
    def chooser(task_record, stream):
        return str(tmp_path / f"{task_record['id']}.{stream}")

    with parsl.load(parsl.Config(run_dir=run_dir, std_autopath=chooser)):
        fut = run("echo x", stdout=parsl.AUTO_LOGNAME)
        fut.result(timeout=10)
        assert (tmp_path / f"{fut.tid}.stdout").read_text() == "x\n"


def test_bad_stdout_type_fails_the_task_clearly(dfk):
    with pytest.raises(BadStdStreamFile, match="stdout"):
        run("true", stdout=12).result(timeout=10)


def test_bash_app_accepts_stdout_without_declaring_it(dfk, tmp_path):
    @bash_app
    def plain():
        return "echo plain"

    out = tmp_path / "plain.out"
    plain(stdout=str(out)).result(timeout=10)
    assert out.read_text() == "plain\n"


def _pid_in(path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return int(open(path).read())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError(f"no pid written to {path} within 30 s")


def _wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        time.sleep(0.05)
    return False


def test_background_processes_of_a_command_end_with_its_task(dfk, tmp_path):
    pidfile = tmp_path / "bg.pid"
    assert run(f"sleep 300 & echo $! > {pidfile}").result(timeout=10) == 0
    assert _wait_gone(_pid_in(pidfile)), "the command's background sleep outlived its task"


def test_running_commands_end_with_the_run(run_dir, tmp_path):
    from parsl.config import Config
    from parsl.executors.threads import ThreadPoolExecutor

    pidfile = tmp_path / "sleep.pid"
    with parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=1)], run_dir=run_dir)):
        fut = run(f"echo $$ > {pidfile}; exec sleep 300")
        pid = _pid_in(pidfile)
    assert _wait_gone(pid), "a running bash command outlived the run"
    with pytest.raises(BashExitFailure):
        fut.result(timeout=10)
