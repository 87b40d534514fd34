"""The per-node download cache, on by default, against real loopback servers.

The HTTP server answers conditional GETs and counts full-body answers (200) apart from
304s; the FTP server (pyftpdlib) counts the downloads (RETR) of each file. The thread
executor's workers are this process, whose temporary folder conftest's ``node_tmp``
points at a fresh folder for each test, so the default cache folder
``$TMPDIR/parsl-staging-cache-<uid>`` starts empty. The HTEX test sets TMPDIR in the
workers' environment instead.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import pytest
from staging_servers import Answer, versioned
from staging_test_apps import overwrite_inputs, read_inputs

from parsl import File, python_app
from parsl.dataflow.errors import DependencyError
from parsl_staging import (
    NODE_CACHE,
    CacheFolderError,
    FTPInTaskStaging,
    FTPSeparateTaskStaging,
    HTTPInTaskStaging,
    HTTPSeparateTaskStaging,
    Retry,
)
from parsl_staging.http import HTTPTransport

read = python_app(read_inputs)
overwrite = python_app(overwrite_inputs)


def default_cache(node_tmp: Path) -> Path:
    return node_tmp / f"parsl-staging-cache-{os.getuid()}"


def read_in_turn(url: str, times: int, **file_options: Any) -> list[list[bytes]]:
    """``times`` tasks reading ``url``, each submitted after the previous one ended."""
    return [read(inputs=[File(url, **file_options)]).result(timeout=60)
            for _ in range(times)]


@pytest.mark.parametrize("provider", [HTTPInTaskStaging, HTTPSeparateTaskStaging])
def test_default_cache_downloads_a_url_once_for_concurrent_tasks(
        provider: Any, http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    path = f"/cache/concurrent-{provider.__name__}.bin"
    body = b"z" * 200_000
    url = http_server.serve(path, Answer(body=body, delay=0.3, etag='"c1"'))
    load(storage_access=[provider()], working_dir=str(tmp_path / "work"), max_threads=6)
    futures = [read(inputs=[File(url)]) for _ in range(6)]
    assert all(f.result(timeout=60) == [body] for f in futures)
    assert http_server.full(path) == 1
    assert http_server.not_modified(path) == 5


def test_default_cache_folder_is_private_and_in_the_workers_temporary_folder(
        http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    url = http_server.serve("/cache/where.txt", versioned(b"where"))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    assert read(inputs=[File(url)]).result(timeout=60) == [b"where"]
    info = default_cache(node_tmp).stat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.getuid()


@pytest.mark.slow
def test_default_cache_on_htex_downloads_a_url_once_for_concurrent_tasks(
        http_server: Any, load_htex: Any, tmp_path: Path) -> None:
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    body = b"h" * 100_000
    url = http_server.serve("/cache/htex.bin", Answer(body=body, delay=0.3, etag='"h1"'))
    load_htex(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"),
              worker_init=f"export TMPDIR={worker_tmp}")
    remote_read = python_app(read_inputs, executors=["htex"])
    futures = [remote_read(inputs=[File(url)]) for _ in range(4)]
    assert all(f.result(timeout=120) == [body] for f in futures)
    assert http_server.full("/cache/htex.bin") == 1
    assert http_server.not_modified("/cache/htex.bin") == 3
    assert default_cache(worker_tmp).is_dir(), "the folder is resolved on the worker"


def test_content_changed_on_the_server_reaches_the_next_task(
        http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    url = http_server.serve("/cache/changing.txt", versioned(b"version 1"))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    assert read_in_turn(url, 2) == [[b"version 1"]] * 2
    http_server.serve("/cache/changing.txt", versioned(b"version 2"))
    assert read_in_turn(url, 2) == [[b"version 2"]] * 2
    assert http_server.full("/cache/changing.txt") == 1
    assert http_server.not_modified("/cache/changing.txt") == 1


def test_last_modified_alone_revalidates(http_server: Any, load: Any, tmp_path: Path,
                                         node_tmp: Path) -> None:
    url = http_server.serve("/cache/dated.txt", versioned(b"dated", etag=False))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    assert read_in_turn(url, 3) == [[b"dated"]] * 3
    assert http_server.full("/cache/dated.txt") == 1
    assert http_server.not_modified("/cache/dated.txt") == 2


def test_server_without_validators_is_downloaded_by_every_task(
        http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    url = http_server.serve("/cache/plain.txt", Answer(body=b"no validators"))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    assert read_in_turn(url, 3) == [[b"no validators"]] * 3
    assert http_server.full("/cache/plain.txt") == 3


def test_input_modified_in_place_by_a_task_is_not_served_to_the_next(
        http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    url = http_server.serve("/cache/modified.txt", versioned(b"pristine"))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    overwrite("TAMPERED", inputs=[File(url)]).result(timeout=60)
    assert read_in_turn(url, 1) == [[b"pristine"]]
    assert http_server.full("/cache/modified.txt") == 2


def test_cache_dir_none_downloads_for_every_task(http_server: Any, load: Any,
                                                 tmp_path: Path, node_tmp: Path) -> None:
    url = http_server.serve("/cache/off.txt", versioned(b"uncached"))
    load(storage_access=[HTTPInTaskStaging(cache_dir=None)],
         working_dir=str(tmp_path / "work"))
    assert read_in_turn(url, 3) == [[b"uncached"]] * 3
    assert http_server.full("/cache/off.txt") == 3
    assert http_server.not_modified("/cache/off.txt") == 0
    assert not default_cache(node_tmp).exists()


def test_explicit_cache_dir_is_used(http_server: Any, load: Any, tmp_path: Path,
                                    node_tmp: Path) -> None:
    url = http_server.serve("/cache/explicit.txt", versioned(b"explicit"))
    folder = tmp_path / "my-cache"
    load(storage_access=[HTTPInTaskStaging(cache_dir=folder)],
         working_dir=str(tmp_path / "work"))
    assert read_in_turn(url, 2) == [[b"explicit"]] * 2
    assert http_server.not_modified("/cache/explicit.txt") == 1
    assert any(p.suffix == ".json" for p in folder.iterdir())
    assert not default_cache(node_tmp).exists()


def test_matching_checksum_reuses_the_entry_without_a_request(
        http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    body = b"checksummed"
    url = http_server.serve("/cache/summed.txt", versioned(body))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    checksum = "sha256:" + hashlib.sha256(body).hexdigest()
    assert read_in_turn(url, 3, checksum=checksum) == [[body]] * 3
    assert http_server.hits("/cache/summed.txt") == 1


def test_checksum_of_an_entry_cached_without_one_is_computed_and_reused(
        http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    body = b"summed later"
    url = http_server.serve("/cache/summed-later.txt", versioned(body))
    load(storage_access=[HTTPInTaskStaging()], working_dir=str(tmp_path / "work"))
    read_in_turn(url, 1)
    checksum = "sha256:" + hashlib.sha256(body).hexdigest()
    assert read_in_turn(url, 2, checksum=checksum) == [[body]] * 2
    assert http_server.hits("/cache/summed-later.txt") == 1


@pytest.mark.skipif(os.getuid() != 0, reason="chown to another uid needs root (CI is root)")
@pytest.mark.parametrize("provider", [HTTPInTaskStaging, HTTPSeparateTaskStaging])
def test_cache_folder_of_another_user_is_refused_with_a_clear_error(
        provider: Any, http_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    path = f"/cache/foreign-{provider.__name__}.txt"
    url = http_server.serve(path, versioned(b"foreign"))
    folder = default_cache(node_tmp)
    folder.mkdir(mode=0o700)
    os.chown(folder, 54321, 54321)
    load(storage_access=[provider(retry=Retry(attempts=1))],
         working_dir=str(tmp_path / "work"))
    with pytest.raises((CacheFolderError, DependencyError)) as failure:
        read(inputs=[File(url)]).result(timeout=60)
    message = str(failure.value)
    assert str(folder) in message
    assert "belongs to uid 54321" in message
    assert "cache_dir=" in message
    assert http_server.hits(path) == 0


def test_a_new_version_leaves_earlier_links_with_their_data(http_server: Any,
                                                            tmp_path: Path) -> None:
    """The transport of both HTTP providers, called as a worker calls it."""
    url = http_server.serve("/cache/replaced.txt", versioned(b"old"))
    transport = HTTPTransport(10.0, Retry(attempts=1), True, str(tmp_path / "cache"))
    transport.download(File(url), str(tmp_path / "first.txt"), None)
    http_server.serve("/cache/replaced.txt", versioned(b"new"))
    transport.download(File(url), str(tmp_path / "second.txt"), None)
    assert (tmp_path / "first.txt").read_bytes() == b"old"
    assert (tmp_path / "second.txt").read_bytes() == b"new"


def test_an_unreadable_sidecar_means_download_again(http_server: Any,
                                                   tmp_path: Path) -> None:
    url = http_server.serve("/cache/corrupt.txt", versioned(b"intact"))
    cache = tmp_path / "cache"
    transport = HTTPTransport(10.0, Retry(attempts=1), True, str(cache))
    transport.download(File(url), str(tmp_path / "first.txt"), None)
    for sidecar in cache.glob("*.json"):
        sidecar.write_text('{"url": ')
    transport.download(File(url), str(tmp_path / "second.txt"), None)
    assert (tmp_path / "second.txt").read_bytes() == b"intact"
    assert http_server.full("/cache/corrupt.txt") == 2


def test_repr_shows_the_cache_setting() -> None:
    assert "cache_dir=parsl_staging.NODE_CACHE)" in repr(HTTPInTaskStaging())
    assert "cache_dir=None)" in repr(HTTPSeparateTaskStaging(cache_dir=None))
    assert "cache_dir='/scratch/c')" in repr(HTTPInTaskStaging(cache_dir=Path("/scratch/c")))


def test_node_cache_default_survives_pickling_as_itself() -> None:
    assert pickle.loads(pickle.dumps(NODE_CACHE)) is NODE_CACHE


def test_bad_cache_dir_is_rejected_naming_the_field() -> None:
    with pytest.raises(TypeError, match="HTTPInTaskStaging: cache_dir must be a folder"):
        HTTPInTaskStaging(cache_dir=42)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:The asyn.* module is deprecated:DeprecationWarning")
@pytest.mark.parametrize("provider", [FTPInTaskStaging, FTPSeparateTaskStaging])
def test_ftp_unchanged_file_is_reused_and_a_changed_one_downloaded_again(
        provider: Any, ftp_server: Any, load: Any, tmp_path: Path, node_tmp: Path) -> None:
    """Revalidated with MDTM and SIZE; the change keeps the size and moves the mtime."""
    name = f"cached-{provider.__name__}.txt"
    source = Path(ftp_server.root) / "pub" / name
    source.write_bytes(b"version 1\n")
    os.utime(source, (1_700_000_000, 1_700_000_000))
    url = ftp_server.url(f"/pub/{name}")
    load(storage_access=[provider()], working_dir=str(tmp_path / "work"))
    assert read_in_turn(url, 2) == [[b"version 1\n"]] * 2
    assert ftp_server.retrievals[name] == 1
    source.write_bytes(b"version 2\n")
    os.utime(source, (1_700_000_100, 1_700_000_100))
    assert read_in_turn(url, 2) == [[b"version 2\n"]] * 2
    assert ftp_server.retrievals[name] == 2


@pytest.mark.filterwarnings("ignore:The asyn.* module is deprecated:DeprecationWarning")
def test_ftp_cache_dir_none_downloads_for_every_task(ftp_server: Any, load: Any,
                                                     tmp_path: Path, node_tmp: Path) -> None:
    source = Path(ftp_server.root) / "pub" / "uncached.txt"
    source.write_bytes(b"every time\n")
    load(storage_access=[FTPInTaskStaging(cache_dir=None)],
         working_dir=str(tmp_path / "work"))
    assert read_in_turn(ftp_server.url("/pub/uncached.txt"), 3) == [[b"every time\n"]] * 3
    assert ftp_server.retrievals["uncached.txt"] == 3
    assert "cache_dir=None)" in repr(FTPInTaskStaging(cache_dir=None))
