"""HTTP(S) stage-in against a real stdlib HTTP server on loopback (HTTPS: trustme CA)."""
from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

import pytest
from staging_servers import Answer
from staging_test_apps import local_paths, read_inputs

from parsl import File, python_app
from parsl.dataflow.errors import DependencyError
from parsl_staging import (
    ChecksumMismatch,
    HTTPInTaskStaging,
    HTTPSeparateTaskStaging,
    Retry,
    StagingError,
)

read = python_app(read_inputs)
paths = python_app(local_paths)

NO_RETRY = Retry(attempts=1)
FAST_RETRY = Retry(attempts=3, initial_delay=0.01, max_delay=0.05)


def leftovers(folder: Any) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("provider", [HTTPSeparateTaskStaging, HTTPInTaskStaging])
def test_http_input_is_downloaded_before_the_task(provider: Any, http_server: Any, load: Any,
                                                   tmp_path: Any) -> None:
    url = http_server.serve(f"/ok/{provider.__name__}.csv", Answer(body=b"a,b\n1,2\n"))
    load(storage_access=[provider()], working_dir=str(tmp_path / "work"))
    assert read(inputs=[File(url)]).result(timeout=60) == [b"a,b\n1,2\n"]


def test_default_storage_access_stages_http(http_server: Any, load: Any,
                                            tmp_path: Any) -> None:
    url = http_server.serve("/default/in.txt", Answer(body=b"default"))
    load(working_dir=str(tmp_path / "work"))
    assert read(inputs=[File(url)]).result(timeout=60) == [b"default"]


def test_https_with_a_private_ca_is_verified(https_server: Any, load: Any,
                                             tmp_path: Any) -> None:
    url = https_server.serve("/tls/in.txt", Answer(body=b"secret"))
    load(storage_access=[HTTPInTaskStaging(verify=https_server.ca_bundle)],
         working_dir=str(tmp_path / "work"))
    assert read(inputs=[File(url)]).result(timeout=60) == [b"secret"]


def test_https_with_an_untrusted_certificate_fails(https_server: Any, load: Any,
                                                   tmp_path: Any) -> None:
    url = https_server.serve("/tls/untrusted.txt", Answer(body=b"secret"))
    load(storage_access=[HTTPInTaskStaging(retry=NO_RETRY)],
         working_dir=str(tmp_path / "work"))
    with pytest.raises(StagingError, match=r"untrusted\.txt failed: SSLError"):
        read(inputs=[File(url)]).result(timeout=60)


def test_404_fails_the_task_naming_url_and_status_and_leaves_no_file(
        http_server: Any, load: Any, tmp_path: Any) -> None:
    url = http_server.serve("/missing/data.csv", Answer(404, b"<html>not found</html>"))
    work = tmp_path / "work"
    load(storage_access=[HTTPSeparateTaskStaging(retry=FAST_RETRY)], working_dir=str(work))
    with pytest.raises(DependencyError) as failure:
        read(inputs=[File(url)]).result(timeout=60)
    assert f"staging in {url} failed: HTTP status 404" in str(failure.value)
    assert http_server.hits("/missing/data.csv") == 1, "a 404 is not retried"
    assert leftovers(work) == []


def test_in_task_404_fails_the_task_with_staging_error(http_server: Any, load: Any,
                                                       tmp_path: Any) -> None:
    url = http_server.serve("/missing/in-task.csv", Answer(404, b"nope"))
    work = tmp_path / "work"
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(work))
    with pytest.raises(StagingError, match="HTTP status 404") as failure:
        read(inputs=[File(url)]).result(timeout=60)
    assert failure.value.url == url
    assert leftovers(work) == []


@pytest.mark.parametrize("status", [500, 429])
def test_5xx_or_429_then_200_is_retried_and_succeeds(status: int, http_server: Any,
                                                     load: Any, tmp_path: Any) -> None:
    path = f"/flaky/{status}.txt"
    url = http_server.serve(path, Answer(status, b"oops"), Answer(body=b"finally"))
    load(storage_access=[HTTPInTaskStaging(retry=FAST_RETRY)],
         working_dir=str(tmp_path / "work"))
    assert read(inputs=[File(url)]).result(timeout=60) == [b"finally"]
    assert http_server.hits(path) == 2


def test_persistent_500_is_retried_a_bounded_number_of_times(http_server: Any, load: Any,
                                                             tmp_path: Any) -> None:
    url = http_server.serve("/down/in.txt", Answer(503, b"down"))
    load(storage_access=[HTTPInTaskStaging(retry=FAST_RETRY)],
         working_dir=str(tmp_path / "work"))
    with pytest.raises(StagingError, match="HTTP status 503"):
        read(inputs=[File(url)]).result(timeout=60)
    assert http_server.hits("/down/in.txt") == FAST_RETRY.attempts


def test_body_shorter_than_content_length_is_an_error(http_server: Any, load: Any,
                                                      tmp_path: Any) -> None:
    url = http_server.serve("/short/in.bin", Answer(body=b"x" * 100, declared_length=1000))
    work = tmp_path / "work"
    load(storage_access=[HTTPInTaskStaging(retry=NO_RETRY)], working_dir=str(work))
    with pytest.raises(StagingError, match=r"short/in\.bin failed"):
        read(inputs=[File(url)]).result(timeout=60)
    assert leftovers(work) == []


def test_slow_server_past_the_timeout_fails(http_server: Any, load: Any,
                                            tmp_path: Any) -> None:
    url = http_server.serve("/slow/in.txt", Answer(body=b"late", delay=3))
    load(storage_access=[HTTPInTaskStaging(timeout=0.5, retry=NO_RETRY)],
         working_dir=str(tmp_path / "work"))
    with pytest.raises(StagingError, match="ReadTimeout"):
        read(inputs=[File(url)]).result(timeout=60)


def test_two_inputs_with_the_same_basename_do_not_overwrite_each_other(
        http_server: Any, load: Any, tmp_path: Any) -> None:
    first = http_server.serve("/a/data.csv", Answer(body=b"first"))
    second = http_server.serve("/b/data.csv", Answer(body=b"second"))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    files = [File(first), File(second)]
    assert read(inputs=files).result(timeout=60) == [b"first", b"second"]
    first_path, second_path = paths(inputs=files).result(timeout=60)
    assert first_path != second_path
    assert os.path.basename(first_path) == os.path.basename(second_path) == "data.csv"


def test_expected_checksum_is_verified(http_server: Any, load: Any, tmp_path: Any) -> None:
    body = b"checked content"
    url = http_server.serve("/sum/good.txt", Answer(body=body))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    good = File(url, checksum="sha256:" + hashlib.sha256(body).hexdigest())
    assert read(inputs=[good]).result(timeout=60) == [body]


def test_checksum_mismatch_fails_and_leaves_no_file(http_server: Any, load: Any,
                                                    tmp_path: Any) -> None:
    url = http_server.serve("/sum/bad.txt", Answer(body=b"tampered"))
    work = tmp_path / "work"
    load(storage_access=[HTTPInTaskStaging(retry=NO_RETRY)], working_dir=str(work))
    bad = File(url, checksum="sha256:" + hashlib.sha256(b"original").hexdigest())
    with pytest.raises(ChecksumMismatch, match="sha256 checksum is"):
        read(inputs=[bad]).result(timeout=60)
    assert leftovers(work) == []


def test_transfer_is_logged_with_bytes_rate_and_task_id(
        http_server: Any, load: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    url = http_server.serve("/logged/in.txt", Answer(body=b"12345"))
    caplog.set_level(logging.DEBUG, logger="parsl_staging")
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    future = read(inputs=[File(url)])
    future.result(timeout=60)
    records = [r for r in caplog.records if r.name == "parsl_staging.transfer"
               and url in r.getMessage()]
    assert records, "no transfer log line"
    assert "5 bytes in" in records[0].getMessage()
    assert "MB/s" in records[0].getMessage()
    assert getattr(records[0], "task_id", None) == future.tid


def test_concurrent_stage_in_of_one_url_never_shows_a_partial_file(
        http_server: Any, load: Any, tmp_path: Any) -> None:
    body = bytes(range(256)) * 4096
    url = http_server.serve("/same/one.bin", Answer(body=body))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"),
         max_threads=4)
    futures = [read(inputs=[File(url)]) for _ in range(8)]
    assert all(f.result(timeout=60) == [body] for f in futures)


def test_bad_provider_options_are_rejected_with_the_field_name() -> None:
    with pytest.raises(ValueError, match="HTTPInTaskStaging: timeout must be"):
        HTTPInTaskStaging(timeout=0)
    with pytest.raises(TypeError, match=r"retry must be a parsl_staging\.Retry"):
        HTTPSeparateTaskStaging(retry=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Retry: attempts must be"):
        Retry(attempts=0)
