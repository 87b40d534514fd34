"""File: local paths and URLs."""
from __future__ import annotations

import os
import pathlib

import pytest

from parsl import File


def test_local_path_has_file_scheme_and_filepath():
    f = File("/data/in/x.txt")
    assert (f.scheme, f.netloc, f.path, f.filename) == ("file", "", "/data/in/x.txt", "x.txt")
    assert f.filepath == "/data/in/x.txt"
    assert os.fspath(f) == "/data/in/x.txt"


def test_url_parts():
    f = File("https://example.org:8443/a/b.csv")
    assert (f.scheme, f.netloc, f.path, f.filename) == (
        "https", "example.org:8443", "/a/b.csv", "b.csv")


def test_file_url_is_local():
    assert File("file:///tmp/z").filepath == "/tmp/z"


def test_remote_file_without_staging_has_no_filepath():
    with pytest.raises(ValueError, match="has not been staged in"):
        File("globus://endpoint/path/file").filepath  # noqa: B018


def test_remote_file_without_staging_says_no_local_path_as_parsl_does():
    with pytest.raises(ValueError, match=r"^No local_path set for File 'https://h/x\.txt'"):
        File("https://h/x.txt").filepath  # noqa: B018


def test_pathlike_accepted_and_bad_type_rejected():
    assert File(pathlib.Path("/a/b")).path == "/a/b"
    with pytest.raises(TypeError, match="url must be a str"):
        File(42)


def test_cleancopy_drops_staging_state():
    f = File("http://h/x")
    f.local_path = "/tmp/x"
    assert f.filepath == "/tmp/x"
    assert f.cleancopy().local_path is None


def test_remote_input_without_staging_provider_fails_at_submission(dfk):
    import parsl

    @parsl.python_app
    def read(inputs=()):
        return 1

    with pytest.raises(ValueError, match=r"cannot stage in file 'gsiftp://host/file'"):
        read(inputs=[File("gsiftp://host/file")])
