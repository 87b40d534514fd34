"""Zip archives as stage-out and stage-in targets (real zip files, real threads)."""
from __future__ import annotations

import zipfile
from typing import Any

import pytest
from staging_test_apps import count_lines, read_file, write_outputs

from parsl import File, bash_app, python_app
from parsl.app.futures import DataFuture
from parsl.dataflow.errors import DependencyError
from parsl_staging import ZipAuthorityError, ZipFileStaging

write = python_app(write_outputs)
lines = python_app(count_lines)
read = python_app(read_file)


def test_output_goes_into_the_archive_and_back_out_as_an_input(load: Any,
                                                               tmp_path: Any) -> None:
    load(working_dir=str(tmp_path / "work"))
    archive = tmp_path / "run.zip"
    produced = write("1\n2\n3\n", outputs=[File(f"zip:{archive}/inside/data.txt")])
    assert lines(produced.outputs[0]).result(timeout=60) == 3
    with zipfile.ZipFile(archive) as z:
        assert z.read("inside/data.txt") == b"1\n2\n3\n"


def test_concurrent_writers_to_one_archive_all_land(load: Any, tmp_path: Any) -> None:
    load(storage_access=[ZipFileStaging()], working_dir=str(tmp_path / "work"),
         max_threads=8)
    archive = tmp_path / "shared.zip"
    futures = [write(f"member {i}\n", outputs=[File(f"zip:{archive}/m{i}.txt")])
               for i in range(24)]
    for future in futures:
        future.outputs[0].result(timeout=60)
    with zipfile.ZipFile(archive) as z:
        assert z.testzip() is None
        assert sorted(z.namelist()) == sorted(f"m{i}.txt" for i in range(24))
        assert z.read("m7.txt") == b"member 7\n"


def test_missing_member_fails_the_task_naming_the_url(load: Any, tmp_path: Any) -> None:
    load(storage_access=[ZipFileStaging()], working_dir=str(tmp_path / "work"))
    archive = tmp_path / "some.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("present.txt", "here")
    url = f"zip:{archive}/absent.txt"
    with pytest.raises(DependencyError, match=r"has no member 'absent\.txt'"):
        read(File(url)).result(timeout=60)


def test_zip_url_with_a_netloc_is_rejected(load: Any, tmp_path: Any) -> None:
    load(storage_access=[ZipFileStaging()], working_dir=str(tmp_path / "work"))
    with pytest.raises(ZipAuthorityError, match="authority"):
        read(File("zip://host/tmp/a.zip/b.txt"))


@bash_app
def _talk(stdout: Any = None, stderr: Any = None) -> str:
    return "echo to-out; echo to-err >&2"


def test_bash_app_stdout_and_stderr_can_be_zip_members(load: Any, tmp_path: Any) -> None:
    """As in Parsl's test_staging_stdout: each stream is a DataFuture that resolves once
    the stream is in the archive."""
    load(working_dir=str(tmp_path / "work"))
    archive = tmp_path / "streams.zip"
    future = _talk(stdout=File(f"zip:{archive}/logs/out.txt"),
                   stderr=File(f"zip:{archive}/logs/err.txt"))

    assert isinstance(future.stdout, DataFuture)
    assert isinstance(future.stderr, DataFuture)
    future.stdout.result(timeout=60)
    future.stderr.result(timeout=60)
    with zipfile.ZipFile(archive) as z:
        assert z.read("logs/out.txt") == b"to-out\n"
        assert z.read("logs/err.txt").splitlines()[-1] == b"to-err"
