"""FTP staging against a real pyftpdlib server on a loopback port (so every URL has a
port), with anonymous read-only, password read-only and uploading users."""
from __future__ import annotations

import os
from typing import Any

import pytest
from staging_test_apps import read_inputs, write_outputs

from parsl import File, python_app
from parsl.dataflow.errors import DependencyError
from parsl_staging import FTPInTaskStaging, FTPSeparateTaskStaging, Retry, StagingError

read = python_app(read_inputs)
write = python_app(write_outputs)

NO_RETRY = Retry(attempts=1)

#: pyftpdlib (the test server) imports asyncore/asynchat, deprecated since Python 3.6.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The asyn.* module is deprecated:DeprecationWarning")


def test_anonymous_download_from_a_url_with_a_port(ftp_server: Any, load: Any,
                                                   tmp_path: Any) -> None:
    load(storage_access=[FTPSeparateTaskStaging()], working_dir=str(tmp_path / "work"))
    url = ftp_server.url("/pub/hello.txt")
    assert read(inputs=[File(url)]).result(timeout=60) == [b"hello over ftp\n"]


def test_user_and_password_in_the_url_log_in(ftp_server: Any, load: Any,
                                             tmp_path: Any) -> None:
    load(storage_access=[FTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    url = ftp_server.url("/pub/hello.txt", "reader:reader-pw")
    assert read(inputs=[File(url)]).result(timeout=60) == [b"hello over ftp\n"]


def test_wrong_password_fails_without_retry_and_hides_the_password(
        ftp_server: Any, load: Any, tmp_path: Any) -> None:
    load(storage_access=[FTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    url = ftp_server.url("/pub/hello.txt", "reader:wrong-pw")
    with pytest.raises(StagingError, match="530") as failure:
        read(inputs=[File(url)]).result(timeout=60)
    assert "wrong-pw" not in str(failure.value)
    assert "reader:***@" in str(failure.value)


def test_temporary_4xx_reply_is_retried(ftp_server: Any, load: Any, tmp_path: Any) -> None:
    with open(ftp_server.root + "/pub/busy.txt", "w") as handle:
        handle.write("eventually\n")
    ftp_server.busy_once["busy.txt"] = 2
    retry = Retry(attempts=3, initial_delay=0.01, max_delay=0.02)
    load(storage_access=[FTPInTaskStaging(retry=retry)], working_dir=str(tmp_path / "work"))
    url = ftp_server.url("/pub/busy.txt")
    assert read(inputs=[File(url)]).result(timeout=60) == [b"eventually\n"]
    assert ftp_server.busy_once["busy.txt"] == 0


def test_missing_file_fails_the_dependent_task_naming_the_url(
        ftp_server: Any, load: Any, tmp_path: Any) -> None:
    work = tmp_path / "work"
    load(storage_access=[FTPSeparateTaskStaging(retry=NO_RETRY)], working_dir=str(work))
    url = ftp_server.url("/pub/absent.txt")
    with pytest.raises(DependencyError, match=f"staging in {url} failed: error_perm: 550"):
        read(inputs=[File(url)]).result(timeout=60)
    assert not list(work.rglob("absent.txt*"))


@pytest.mark.parametrize("provider", [FTPSeparateTaskStaging, FTPInTaskStaging])
def test_output_is_uploaded_by_a_user_who_may_write(provider: Any, ftp_server: Any,
                                                    load: Any, tmp_path: Any) -> None:
    load(storage_access=[provider()], working_dir=str(tmp_path / "work"))
    name = f"/upload/{provider.__name__}.txt"
    future = write("uploaded\n", outputs=[File(ftp_server.url(name, "writer:writer-pw"))])
    future.outputs[0].result(timeout=60)
    with open(ftp_server.root + name) as handle:
        assert handle.read() == "uploaded\n"


def test_upload_to_a_read_only_account_fails_the_output_and_leaves_nothing(
        ftp_server: Any, load: Any, tmp_path: Any) -> None:
    load(storage_access=[FTPSeparateTaskStaging(retry=NO_RETRY)],
         working_dir=str(tmp_path / "work"))
    url = ftp_server.url("/upload/denied.txt", "reader:reader-pw")
    future = write("nope\n", outputs=[File(url)])
    future.result(timeout=60)
    with pytest.raises(StagingError, match=r"staging out .*denied\.txt failed: .*550"):
        future.outputs[0].result(timeout=60)
    assert not [n for n in os.listdir(ftp_server.root + "/upload") if "denied" in n]


def test_unreachable_server_is_retried_then_fails(load: Any, tmp_path: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    retry = Retry(attempts=2, initial_delay=0.01, max_delay=0.02)
    load(storage_access=[FTPInTaskStaging(timeout=5, retry=retry)],
         working_dir=str(tmp_path / "work"))
    with pytest.raises(StagingError, match="ConnectionRefusedError"):
        read(inputs=[File(f"ftp://127.0.0.1:{port}/x.txt")]).result(timeout=60)
