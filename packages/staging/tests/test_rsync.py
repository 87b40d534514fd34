"""RSyncStaging: Debian's rsync over a real OpenSSH server on loopback (the sshd fixture
of the parsl-providers-hpc tests, with its generated host and user keys)."""
from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from staging_test_apps import read_inputs, write_outputs

from parsl import File, python_app
from parsl_staging import Retry, RSyncStaging, StagingError
from parsl_staging.rsync import RETRYABLE_EXITS, RsyncFailed

read = python_app(read_inputs)
write = python_app(write_outputs)

pytestmark = pytest.mark.sshd


def ssh_command(sshd: Any, port: int = 0) -> str:
    return (f"ssh -p {port or sshd.port} -i {sshd.user_key} "
            f"-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes "
            "-o BatchMode=yes -o ConnectTimeout=10")


def test_input_is_copied_from_the_host_with_rsync(sshd: Any, rsync_bin: str, load: Any,
                                                  tmp_path: Any) -> None:
    source = tmp_path / "data dir" / "it's input.txt"
    source.parent.mkdir()
    source.write_text("over ssh\n")
    load(storage_access=[RSyncStaging("127.0.0.1", ssh_command=ssh_command(sshd))],
         working_dir=str(tmp_path / "work"))
    assert read(inputs=[File(str(source))]).result(timeout=60) == [b"over ssh\n"]


def test_output_is_copied_back_to_the_host(sshd: Any, rsync_bin: str, load: Any,
                                           tmp_path: Any) -> None:
    target = tmp_path / "results" / "out.txt"
    target.parent.mkdir()
    load(storage_access=[RSyncStaging("127.0.0.1", ssh_command=ssh_command(sshd))],
         working_dir=str(tmp_path / "work"))
    future = write("result\n", outputs=[File(str(target))])
    future.outputs[0].result(timeout=60)
    assert target.read_text() == "result\n"


def test_missing_remote_file_reports_exit_code_and_stderr(sshd: Any, rsync_bin: str,
                                                          load: Any, tmp_path: Any) -> None:
    load(storage_access=[RSyncStaging("127.0.0.1", ssh_command=ssh_command(sshd))],
         working_dir=str(tmp_path / "work"))
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(RsyncFailed) as failure:
        read(inputs=[File(str(missing))]).result(timeout=60)
    assert failure.value.exit_code == 23
    assert "nowhere.txt" in failure.value.stderr
    assert "exited with 23" in str(failure.value)


def test_read_only_target_fails_the_output(sshd: Any, rsync_bin: str, load: Any,
                                           tmp_path: Any) -> None:
    load(storage_access=[RSyncStaging("127.0.0.1", ssh_command=ssh_command(sshd))],
         working_dir=str(tmp_path / "work"))
    future = write("x\n", outputs=[File("/proc/parsl-staging-cannot-write-here.txt")])
    with pytest.raises(StagingError, match=r"staging out .* failed: .*exited with"):
        future.result(timeout=60)


def test_unreachable_host_is_retried_then_fails_with_rsync_exit_code_and_ssh_error(
        sshd: Any, rsync_bin: str, load: Any, tmp_path: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="parsl_staging.transfer")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    source = tmp_path / "in.txt"
    source.write_text("x")
    retry = Retry(attempts=2, initial_delay=0.01, max_delay=0.02)
    load(storage_access=[RSyncStaging("127.0.0.1", ssh_command=ssh_command(sshd, closed_port),
                                      retry=retry)],
         working_dir=str(tmp_path / "work"))
    with pytest.raises(RsyncFailed) as failure:
        read(inputs=[File(str(source))]).result(timeout=60)
    assert failure.value.exit_code in RETRYABLE_EXITS
    assert "Connection refused" in failure.value.stderr
    assert any("retry 1 of 1" in r.getMessage() for r in caplog.records)


def test_hostname_is_required() -> None:
    with pytest.raises(ValueError, match="RSyncStaging: hostname must be"):
        RSyncStaging("")
